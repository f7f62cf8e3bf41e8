// The UML runner: boots Debian's User-Mode Linux kernel on the host's root file system
// (hostfs) and runs the same agent inside as PID 1's child. Needs no root on the host.
//
// Results come back three ways and the host fails closed (shared/notes/kernel-ci.md §8):
// the agent's status through /proc/exitcode (the linux.uml exit status), a JSON summary line
// on a second console (con1 → our fd 3), and the evidence files under the job's out/ on hostfs.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from './job.ts';
import type { AgentPhase, Availability, Runner, RunOutcome } from './types.ts';
import { readEvents, span } from './timings.ts';
import { describeMissing, missingTools, toolsFor, which } from './tools.ts';
import { ensureNativeTools } from './native-tools.ts';
import { appendJournal, procFields } from '../state/journal.ts';
import { procStartTime } from '../state/proc.ts';
import { EXIT, LabError } from '../errors.ts';

/** Journals the guest right after it is spawned (its pid exists only then); kills it if that fails. */
function journalGuest(job: Job, pid: number | undefined, kill: () => void): void {
  if (pid === undefined) return;
  try {
    appendJournal(job.dir, [['guest', ...procFields({ pid, start: procStartTime(pid) ?? '0' })]]);
  } catch (e) {
    kill();
    throw e;
  }
}

/** The job folder goes on the guest's kernel command line and into a hostfs mount option. */
function checkJobPath(dir: string): void {
  if (!/^[A-Za-z0-9_./-]+$/.test(dir)) throw new Error(`job dir ${dir} has characters a kernel command line or a hostfs mount option cannot carry`);
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const INIT = path.join(here, 'uml-init.sh');
const SHIM_SRC = path.join(here, 'native', 'uml-xstate-shim.c');
export const REPO = path.resolve(here, '../..');
const SHIM = path.join(REPO, '.lab', 'uml-xstate-shim.so');
const MODULES_ROOT = '/usr/lib/uml/modules';

export function umlKernelVersion(): string | undefined {
  try {
    return readdirSync(MODULES_ROOT).sort().at(-1);
  } catch {
    return undefined;
  }
}

/**
 * Builds the LD_PRELOAD shim that lets Debian's UML 6.1 run on CPUs with a large XSAVE area
 * (AVX-512/AMX): see native/uml-xstate-shim.c. Harmless elsewhere.
 */
export function ensureShim(): string {
  if (existsSync(SHIM) && statSync(SHIM).mtimeMs >= statSync(SHIM_SRC).mtimeMs) return SHIM;
  mkdirSync(path.dirname(SHIM), { recursive: true });
  execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', SHIM, SHIM_SRC, '-ldl'], { stdio: 'pipe' });
  return SHIM;
}

/** The UML kernel binary: $DL_UML when set (e.g. a newer UML build), else linux.uml on the PATH. */
export function umlBinary(): string | undefined {
  const wanted = process.env.DL_UML;
  if (wanted) return existsSync(wanted) ? wanted : undefined;
  return which('linux.uml');
}

export const uml: Runner = {
  name: 'uml',
  async available(features: Set<string>): Promise<Availability> {
    if (process.arch !== 'x64') return { ok: false, reason: `Debian ships user-mode-linux for amd64 only (this is ${process.arch})`, fix: 'use the native runner on a kernel with the features, or a VM' };
    if (!umlBinary()) return { ok: false, reason: `${process.env.DL_UML ?? 'linux.uml'} is not installed`, fix: 'apt-get install user-mode-linux (or point DL_UML at a UML kernel)' };
    if (!umlKernelVersion()) return { ok: false, reason: `no UML modules under ${MODULES_ROOT}`, fix: 'apt-get install --reinstall user-mode-linux' };
    const tools = toolsFor(features).filter((t) => t !== 'iptables-restore');
    if (features.has('iptables')) tools.push('iptables-legacy-restore');
    tools.push('modprobe');
    if (!existsSync(SHIM)) tools.push('gcc');
    const miss = missingTools(tools);
    if (miss.length) return { ok: false, reason: describeMissing(miss), fix: 'install the packages above' };
    return { ok: true };
  },
  async run(job: Job, phase: AgentPhase, opts = {}): Promise<RunOutcome> {
    const t0 = Date.now();
    const timeoutMs = opts.timeoutMs ?? 15 * 60_000;
    checkJobPath(job.dir);
    checkOpenFileLimit();
    appendJournal(job.dir, [['runner', 'uml']]);
    const umlDir = path.join(job.dir, 'uml');
    mkdirSync(umlDir, { recursive: true });
    const modules = job.compiled.plan.modules;
    const umid = `dl-${job.labId}`;
    const args = [
      'mem=1G', 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${INIT}`,
      `DL_JOB=${job.dir}`, `DL_PHASE=${phase}`, `DL_MODULES=${modules.join(',')}`,
      'con=null', 'con0=fd:0,fd:1', 'con1=fd:3', `umid=${umid}`, `uml_dir=${umlDir}`, 'quiet',
    ];
    const env = { ...process.env, LD_PRELOAD: ensureShim() };
    ensureNativeTools(); // the agent finds them in .lab/ on hostfs (or uses tcpdump and sysctl)
    const child = spawn(umlBinary() ?? 'linux.uml', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true, env });
    journalGuest(job, child.pid, () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } });
    let consoleText = '';
    let summary: { rc: number; kernel: string } | undefined;
    child.stdout!.on('data', (d: Buffer) => { consoleText = (consoleText + d.toString()).slice(-20000); });
    child.stderr!.on('data', (d: Buffer) => { consoleText = (consoleText + d.toString()).slice(-20000); });
    let side = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      side += d.toString();
      for (const line of side.split('\n').slice(0, -1)) {
        try {
          const j = JSON.parse(line) as { summary?: boolean; rc: number; kernel: string };
          if (j.summary) summary = j;
        } catch { /* kernel noise cannot reach this console; ignore partial lines */ }
      }
    });
    let timedOut = false;
    const kill = (sig: NodeJS.Signals) => { try { process.kill(-child.pid!, sig); } catch { /* gone */ } };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM'); // UML cleans its helpers on TERM; KILL would orphan them
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    // Ctrl-C or a TERM to the CLI stops the run cleanly: the agent (or guest) gets TERM and tears down.
    const forward = () => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ } };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on('error', (e) => { consoleText += `\ncannot start UML: ${e.message}`; });
      child.on('close', (c, s) => resolve([c, s]));
    });
    clearTimeout(timer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    rmSync(umlDir, { recursive: true, force: true });
    const ev = readEvents(job.dir);
    const total = Date.now() - t0;
    let agentStatus: number;
    let log = '';
    if (timedOut) {
      agentStatus = 12;
      log = `UML guest timed out after ${timeoutMs} ms`;
    } else if (signal === 'SIGABRT' || /Kernel panic|BUG:/.test(consoleText)) {
      agentStatus = 12;
      log = `UML guest crashed (${signal ?? code}):\n${consoleText.split('\n').filter((l) => /panic|BUG|fp regs|Call Trace/.test(l)).slice(0, 8).join('\n')}`;
    } else if (!summary) {
      agentStatus = 12;
      log = `UML guest ended (status ${code}) without its summary line: treating the run as broken`;
    } else if (summary.rc !== code) {
      agentStatus = 12;
      log = `UML status ${code} disagrees with the guest's summary (${summary.rc})`;
    } else {
      agentStatus = summary.rc;
    }
    const boot = ev.first !== undefined ? Math.max(0, Math.round(ev.first - t0)) : 0;
    return {
      runner: 'uml',
      kernel: summary?.kernel ?? umlKernelVersion() ?? 'unknown',
      agentStatus,
      timings: { boot, build: span(ev.build), probe: span(ev.probe), teardown: span(ev.teardown), total },
      log,
    };
  },
};

/** Consoles 2..5 on host pseudo-terminals, for `lab shell` (agent/shell.sh): UML opens each pty only
 *  when the guest first opens the console, so unused ones cost nothing. */
const SHELL_CONSOLES = ['con2=pts', 'con3=pts', 'con4=pts', 'con5=pts'];

/**
 * Every guest process is a host process of UML's, inside the host's open-file limit: under
 * `ulimit -n 48` the guest's tools fail to load their libraries and extensions — sometimes, and
 * each in its own words ("Extension DNAT revision 0 not supported, missing kernel module?").
 * Measured here with lite-slb: 48 broke 1 run in 4, 64…256 never. A limit under 128 is refused
 * before the guest boots: a broken run (exit 4), never a datapath verdict.
 */
const MIN_OPEN_FILES = 128;

export function checkOpenFileLimit(): void {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const soft = !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
  if (soft < MIN_OPEN_FILES) {
    throw new LabError(`the run broke before the UML guest booted: the open-file limit (ulimit -n) is ${soft}, and under UML every guest process is a host process: below ${MIN_OPEN_FILES} the lab's tools fail to load their libraries (Too many open files). Raise it (ulimit -n 1024) and run again`, EXIT.infra);
  }
}

/**
 * Boots a guest that builds the job and then serves requests (`lab up`): detached, its console
 * in <job>/uml-console.log, so the CLI can exit and later verbs reach the lab through <job>/ctl.
 * Resolves when the build is done (out/ready) or failed (out/build-error), or the guest died.
 */
export async function startDetached(job: Job, timeoutMs = 10 * 60_000): Promise<{ pid: number; ok: boolean; log: string }> {
  checkJobPath(job.dir);
  checkOpenFileLimit();
  appendJournal(job.dir, [['runner', 'uml']]);
  const umlDir = path.join(job.dir, 'uml');
  mkdirSync(umlDir, { recursive: true });
  const log = openSync(path.join(job.dir, 'uml-console.log'), 'a');
  const args = [
    'mem=1G', 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${INIT}`,
    `DL_JOB=${job.dir}`, 'DL_PHASE=serve', `DL_MODULES=${job.compiled.plan.modules.join(',')}`,
    'con=null', 'con0=fd:0,fd:1', ...SHELL_CONSOLES, `umid=dl-${job.labId}`, `uml_dir=${umlDir}`, 'quiet',
  ];
  ensureNativeTools();
  const child = spawn(umlBinary() ?? 'linux.uml', args, { stdio: ['ignore', log, log], detached: true, env: { ...process.env, LD_PRELOAD: ensureShim() } });
  child.unref();
  journalGuest(job, child.pid, () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const out = path.join(job.dir, 'out');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    if (existsSync(path.join(out, 'ready'))) return { pid: child.pid!, ok: true, log: '' };
    if (existsSync(path.join(out, 'build-error'))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  let why = exited ? 'the UML guest exited before the lab was up' : existsSync(path.join(out, 'build-error')) ? '' : 'timed out waiting for the build';
  if (existsSync(path.join(out, 'build-error'))) why += '\n' + readFileSync(path.join(out, 'build-error'), 'utf8');
  return { pid: child.pid!, ok: false, log: why.trim() };
}
