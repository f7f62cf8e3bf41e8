// A User-Mode Linux guest that runs many jobs in turn: `lab test` boots one per worker instead of
// one per scenario (a boot costs as much as a small scenario). The guest's agent (phase `queue`)
// takes job directories from a queue directory on hostfs and runs each in a fresh agent process —
// build, probes, teardown: every scenario still gets a clean lab — and answers with its status.
// Fails closed like the one-job runner: a job without an answer from the guest is a broken run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from './job.ts';
import { ensureStateDir, stateRoot } from '../state/dir.ts';
import { appendJournal, procFields } from '../state/journal.ts';
import { procStartTime } from '../state/proc.ts';
import { ensureNativeTools } from './native-tools.ts';
import { readEvents, span } from './timings.ts';
import type { RunOutcome } from './types.ts';
import { checkOpenFileLimit, ensureShim, INIT, umlBinary, umlKernelVersion } from './uml.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class UmlGuest {
  private seq = 0;
  private exited = false;
  private console = '';
  private bootMs = 0;
  private readonly child: ChildProcess;
  private readonly dir: string;
  private constructor(child: ChildProcess, dir: string) {
    this.child = child;
    this.dir = dir;
    child.stdout?.on('data', (d: Buffer) => { this.console = (this.console + d.toString()).slice(-20000); });
    child.stderr?.on('data', (d: Buffer) => { this.console = (this.console + d.toString()).slice(-20000); });
    child.on('exit', () => { this.exited = true; });
    child.on('error', (e) => { this.exited = true; this.console += `\ncannot start UML: ${e.message}`; });
  }

  /** Boots a guest with every module any of its jobs will need; resolves once it takes jobs. */
  static async boot(modules: string[], timeoutMs = 120_000): Promise<UmlGuest> {
    const t0 = Date.now();
    // The queue lives in the temp dir (not a lab folder: the state folder holds labs only). Both
    // paths go on the kernel command line and into hostfs mount options.
    checkOpenFileLimit();
    const root = ensureStateDir();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-queue-'));
    for (const p of [root, dir]) if (!/^[A-Za-z0-9_./-]+$/.test(p)) throw new Error(`${p} has characters a kernel command line cannot carry`);
    mkdirSync(path.join(dir, 'out'));
    const args = [
      'mem=1G', 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${INIT}`,
      `DL_JOB=${dir}`, 'DL_PHASE=queue', `DL_QROOT=${root}`, `DL_MODULES=${[...new Set(modules)].join(',')}`,
      'con=null', 'con0=fd:0,fd:1', `umid=dl-q${path.basename(dir).slice(-6)}`, `uml_dir=${path.join(dir, 'uml')}`, 'quiet',
    ];
    mkdirSync(path.join(dir, 'uml'));
    ensureNativeTools();
    const child = spawn(umlBinary() ?? 'linux.uml', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, LD_PRELOAD: ensureShim() } });
    const g = new UmlGuest(child, dir);
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(path.join(dir, 'ready'))) {
      if (g.exited || Date.now() > deadline) {
        const why = g.exited ? 'the UML guest exited before taking jobs' : 'the UML guest did not come up in time';
        await g.stop();
        throw new Error(`${why}${g.console.trim() ? `:\n${g.console.trim().split('\n').slice(-8).join('\n')}` : ''}`);
      }
      await sleep(20);
    }
    g.bootMs = Date.now() - t0;
    return g;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one job (phase all) in the guest. The first job of a guest carries its boot time. */
  async run(job: Job, timeoutMs = 15 * 60_000): Promise<RunOutcome> {
    const t0 = Date.now();
    const id = String(++this.seq);
    const rel = path.relative(stateRoot(), job.dir);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`job ${job.dir} is not under the state directory ${stateRoot()}`);
    // The guest goes into this lab's journal before the job is handed over, like a one-job guest
    // (uml.ts): `status` shows it and `down` stops it (pid and start time) if `lab test` is killed.
    const pid = this.child.pid;
    if (pid !== undefined) appendJournal(job.dir, [['runner', 'uml'], ['guest', ...procFields({ pid, start: procStartTime(pid) ?? '0' })]]);
    writeFileSync(path.join(this.dir, `${id}.req`), `${rel}\n`);
    const rcFile = path.join(this.dir, `${id}.rc`);
    const deadline = t0 + timeoutMs;
    let answer: [number, string] | undefined;
    while (!answer) {
      const m = existsSync(rcFile) ? /^(\d+) (\S+)/.exec(readFileSync(rcFile, 'utf8')) : null;
      if (m) answer = [Number(m[1]), m[2]!];
      else if (this.exited || Date.now() > deadline) break;
      else await sleep(5); // the answer ends a job: read it soon (a stat every 5 ms)
    }
    if (!answer && !this.exited) await this.stop(); // timed out: this guest cannot be trusted with more
    const ev = readEvents(job.dir);
    const boot = this.seq === 1 ? this.bootMs : 0;
    const log = answer ? '' : this.exited
      ? `UML guest ended without answering for this job:\n${this.console.split('\n').filter((l) => /panic|BUG|fp regs|Call Trace/.test(l)).slice(0, 8).join('\n')}`.trim()
      : `UML guest timed out after ${timeoutMs} ms`;
    return {
      runner: 'uml', kernel: answer?.[1] ?? umlKernelVersion() ?? 'unknown', agentStatus: answer ? answer[0] : 12,
      timings: { boot, build: span(ev.build), probe: span(ev.probe), teardown: span(ev.teardown), total: Date.now() - t0 + boot },
      log,
    };
  }

  /** Asks the guest to power off (it finishes nothing more), then makes sure it is gone. */
  async stop(): Promise<void> {
    writeFileSync(path.join(this.dir, 'stop'), '');
    for (let i = 0; i < 250 && !this.exited; i++) await sleep(20);
    if (!this.exited) {
      try { process.kill(-this.child.pid!, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 250 && !this.exited; i++) await sleep(20);
      if (!this.exited) try { process.kill(-this.child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
