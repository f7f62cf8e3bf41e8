// Interactive labs for workshops: `lab up` builds a scenario and leaves it running; exec, shell,
// capture and status reach it; `lab down` removes it. A native lab is plain namespaces on the
// host; a UML lab is a guest left running, reached through its job's control directory
// (ctl/<id>.req → the agent's serve loop → ctl/<id>.out, ctl/<id>.rc) — so a workshop needs no root.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { Compiled } from './compile.ts';
import { takeDown } from './down.ts';
import { LabError, EXIT } from './errors.ts';
import { agentError, compileLab, openLab, runLab } from './lifecycle.ts';
import type { Scenario, Topology } from './model.ts';
import { nsName } from './names.ts';
import { AGENT } from './runners/native.ts';
import { lastProc, runnerOf } from './state/journal.ts';
import { findLab, listLabDirs, type LabEntry } from './state/labs.ts';
import { isRunning, type RecordedProcess } from './state/proc.ts';
import type { RunnerName } from './runners/types.ts';
import { startDetached } from './runners/uml.ts';

export interface LabState {
  labId: string;
  scenario: string;
  file: string;
  runner: RunnerName;
  jobDir: string;
  /** The UML guest as journalled (pid and start time): signalled only when it is still that process. */
  guest?: RecordedProcess;
  objects: { object: string; kind: string; ns: string }[];
  createdAt: string;
}

function toState(e: LabEntry): LabState | undefined {
  if (!e.record || e.record.mode !== 'up') return undefined;
  const r = e.record;
  return { labId: e.labId, scenario: r.scenario, file: r.file, runner: runnerOf(e.journal) ?? 'native', jobDir: e.dir, guest: lastProc(e.journal, 'guest'), objects: r.objects, createdAt: r.createdAt };
}

/** The labs left up by `lab up` (their records, validated). */
export function listLabs(): LabState[] {
  return listLabDirs().labs.map(toState).filter((s): s is LabState => !!s);
}

export function alive(s: LabState): boolean {
  if (s.runner === 'uml') return isRunning(s.guest);
  return existsSync(`/run/netns/${s.objects[0]?.ns}`);
}

/** The lab a verb talks to: the one named, else the only one up, else the only one that has
 *  `object` (a node, pod, vSwitch… name): `--lab` is needed only when the name is ambiguous. */
export function pickLab(labId?: string, object?: string): LabState {
  const labs = listLabs();
  if (labId) {
    const s = labs.find((x) => x.labId === labId);
    if (!s) throw new LabError(`no lab "${labId}" is up (lab status lists them)`, EXIT.usage);
    return s;
  }
  if (labs.length === 1) return labs[0]!;
  if (object !== undefined && labs.length > 1) {
    const holding = labs.filter((x) => x.objects.some((o) => o.object === object));
    if (holding.length === 1) return holding[0]!;
    if (holding.length === 0) throw new LabError(`no lab that is up has "${object}" (up: ${labs.map((x) => `${x.labId} ${x.scenario}`).join(', ')})`, EXIT.usage);
    throw new LabError(`"${object}" is in several labs (${holding.map((x) => `${x.labId} ${x.scenario}`).join(', ')}): say which with --lab`, EXIT.usage);
  }
  throw new LabError(labs.length ? `several labs are up (${labs.map((x) => x.labId).join(', ')}): say which with --lab` : 'no lab is up: start one with `lab up <scenario>`', EXIT.usage);
}

export async function up(topo: Topology, scenario: Scenario, runnerName: RunnerName | 'auto'): Promise<LabState> {
  return (await upCompiled(topo, scenario, runnerName)).state;
}

export async function upCompiled(topo: Topology, scenario: Scenario, runnerName: RunnerName | 'auto'): Promise<{ state: LabState; compiled: Compiled }> {
  const lab = await openLab(compileLab(topo, scenario), { topo, scenario, runner: runnerName, mode: 'up' });
  const { job, compiled } = lab;
  const state = (): LabState => toState(findLab(job.labId)!)!;
  let failure: string | undefined;
  try {
    if (lab.runner.name === 'uml') {
      const r = await startDetached(job);
      if (!r.ok) failure = r.log;
    } else {
      const o = await runLab(lab, 'up');
      if (o.agentStatus !== 0) failure = agentError(job, o);
    }
  } catch (e) {
    failure = (e as Error).message;
  }
  if (failure !== undefined) {
    await downLab(state());
    throw new LabError(`lab ${job.labId} did not come up: ${failure}`, EXIT.infra);
  }
  return { state: state(), compiled };
}

export function objectNs(s: LabState, object: string): string {
  const o = s.objects.find((x) => x.object === object);
  if (!o) throw new LabError(`lab ${s.labId} has no "${object}" (has: ${s.objects.map((x) => x.object).join(', ')})`, EXIT.usage);
  return o.ns;
}

/** A fresh request id: digits and dashes (the agent checks that shape). */
export const requestId = (): string => `${Date.now()}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

/** Sends one request to a UML lab's serve loop; returns its id (given when files of it come first). */
export function request(s: LabState, argv: string[], id = requestId()): string {
  const ctl = path.join(s.jobDir, 'ctl');
  if (!existsSync(ctl)) throw new LabError(`lab ${s.labId} does not answer (no control directory)`, EXIT.infra);
  writeFileSync(path.join(ctl, `${id}.tmp`), argv.join('\0'));
  renameSync(path.join(ctl, `${id}.tmp`), path.join(ctl, `${id}.req`));
  return id;
}

/** Streams a request's output to `out` until it has an exit status; returns it. */
export async function follow(s: LabState, id: string, out: NodeJS.WritableStream, stop?: { requested: boolean }): Promise<number> {
  const ctl = path.join(s.jobDir, 'ctl');
  let offset = 0;
  const drain = () => {
    const f = path.join(ctl, `${id}.out`);
    if (!existsSync(f)) return;
    const size = statSync(f).size;
    if (size <= offset) return;
    const fd = openSync(f, 'r');
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset = size;
    out.write(buf);
  };
  let stopSent = false;
  for (;;) {
    drain();
    const rc = path.join(ctl, `${id}.rc`);
    if (existsSync(rc)) {
      drain();
      const code = Number(readFileSync(rc, 'utf8').trim());
      for (const ext of ['run', 'out', 'rc']) rmSync(path.join(ctl, `${id}.${ext}`), { force: true });
      return Number.isFinite(code) ? code : 1;
    }
    if (stop?.requested && !stopSent) {
      writeFileSync(path.join(ctl, `${id}.stop`), '');
      stopSent = true;
    }
    if (!alive(s)) throw new LabError(`lab ${s.labId} went away`, EXIT.infra);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function execIn(s: LabState, object: string, argv: string[], interactive = false): Promise<number> {
  const ns = objectNs(s, object);
  if (s.runner !== 'uml') {
    const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit', env: { ...process.env, PS1: `[${object}@lab ${s.labId}]# ` } });
    return r.status ?? 1;
  }
  if (interactive) throw new Error('interactive exec is not possible through the control channel');
  return follow(s, request(s, ['exec', ns, ...argv]), process.stdout);
}

/** Runs a command in an object's namespace and returns its output (for explain and tests). */
export async function execCapture(s: LabState, object: string, argv: string[]): Promise<{ rc: number; out: string }> {
  if (s.runner !== 'uml') {
    const r = spawnSync('ip', ['netns', 'exec', objectNs(s, object), ...argv], { encoding: 'utf8' });
    return { rc: r.status ?? 1, out: (r.stdout ?? '') + (r.stderr ?? '') };
  }
  let out = '';
  const sink = { write: (b: Buffer | string) => { out += b.toString(); return true; } } as unknown as NodeJS.WritableStream;
  const rc = await follow(s, request(s, ['exec', objectNs(s, object), ...argv]), sink);
  return { rc, out };
}

/** Runs an agent phase (build, probe, teardown) on a lab that is up. */
export async function agentPhase(s: LabState, phase: 'probe'): Promise<number> {
  if (s.runner !== 'uml') return spawnSync('bash', [AGENT, s.jobDir, phase], { stdio: 'ignore', timeout: 600_000 }).status ?? 1;
  let out = '';
  const sink = { write: (b: Buffer | string) => { out += b.toString(); return true; } } as unknown as NodeJS.WritableStream;
  return follow(s, request(s, ['agent', phase]), sink);
}

export async function capture(s: LabState, object: string, iface: string, filter: string[]): Promise<number> {
  // `--`: whatever follows is the filter expression, never an option of tcpdump's (lab/options.ts checks it first).
  const argv = ['tcpdump', '-l', '-nn', '-e', '-i', iface, '--', ...filter];
  if (s.runner !== 'uml') {
    const c = spawn('ip', ['netns', 'exec', objectNs(s, object), ...argv], { stdio: 'inherit' });
    return new Promise((resolve) => c.on('close', (code) => resolve(code ?? 0)));
  }
  const stop = { requested: false };
  const onInt = () => { stop.requested = true; };
  process.on('SIGINT', onInt);
  try {
    return await follow(s, request(s, ['exec', objectNs(s, object), ...argv]), process.stdout, stop);
  } finally {
    process.off('SIGINT', onInt);
  }
}

/** Tears a lab down by its journal (down.ts) and removes its folder. */
export async function downLab(s: LabState): Promise<void> {
  const e = findLab(s.labId);
  if (e) await takeDown(e);
}

export function describeUp(s: LabState): string {
  const nodes = s.objects.filter((o) => o.kind === 'node' || o.kind === 'pod').map((o) => o.object);
  const eg = nodes[0] ?? s.objects[0]!.object;
  return [
    `lab ${s.labId} is up: scenario ${s.scenario} on the ${s.runner} runner (${s.objects.length} namespaces).`,
    `  objects: ${s.objects.map((o) => `${o.object} (${o.kind})`).join(', ')}`,
    '  reach it:',
    `    npm run lab -- shell ${eg}                     # a shell in ${eg}'s network namespace`,
    `    npm run lab -- exec ${eg} -- ip route show table all`,
    `    npm run lab -- capture ${eg} any tcp port 80    # Ctrl-C to stop`,
    '    npm run lab -- status',
    `    npm run lab -- down ${s.labId}`,
    s.runner === 'native' ? `  or directly: ip netns exec ${nsName(s.labId, eg)} bash` : '  (the lab runs inside a User-Mode Linux guest: the verbs above reach it)',
  ].join('\n');
}
