// Running compiled plans for the benchmarks: build (+ measuring steps) + teardown in one agent
// run, on a chosen runner, with the job directory read and removed afterwards. Measuring steps
// are ordinary manifest steps (exec, daemon, waitfile) appended after the build's last phase:
// the agent runs them in order inside the lab's namespaces, and scripts/bench/capture.sh saves
// a tool's stdout, stderr and exit status under the job's out/ without failing the build.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Compiled } from '../../lab/compile.ts';
import { down } from '../../lab/down.ts';
import { selectRunner } from '../../lab/runners/index.ts';
import { removeJob, writeJob } from '../../lab/runners/job.ts';
import type { RunnerName, RunOutcome } from '../../lab/runners/types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CAPTURE = path.join(here, 'capture.sh');
export const TIMED = path.join(here, 'timed.sh');
export const CONNRATE = path.join(here, 'connrate.sh');
export const ACCEPTOR = path.join(here, 'acceptor.py');

/** Labs this process has up right now: taken down (by lab id only) if the benchmark is interrupted. */
export const activeLabs = new Set<string>();

let hooked = false;
function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void (async () => {
        for (const id of activeLabs) await down({ labId: id, force: true }).catch(() => undefined);
        process.exit(130);
      })();
    });
  }
}

/** Appends `capture.sh OUT argv…` run in `object`'s namespace: stdout → out/NAME.txt (never fails the build). */
export function addCapture(c: Compiled, object: string, name: string, argv: string[]): void {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad capture name ${name}`);
  c.plan.steps.push({ phase: 'wait', object, tool: 'exec', argv: ['bash', CAPTURE, `@JOB@/out/${name}`, ...argv], comment: `bench: ${name}` });
}

/** Appends a background server in `object`'s namespace; its output goes to out/daemon-NAME.log. */
export function addDaemon(c: Compiled, object: string, name: string, argv: string[]): void {
  c.plan.steps.push({ phase: 'wait', object, tool: 'daemon', name, argv, comment: `bench server ${name}` });
}

/** Appends a bounded wait for a job-relative file to be non-empty (e.g. a daemon's log). */
export function addWaitFile(c: Compiled, rel: string, seconds: number): void {
  c.plan.steps.push({ phase: 'wait', object: null, tool: 'waitfile', argv: [rel, String(seconds)] });
}

/** Appends a pause (inside `object`'s namespace, a plain `sleep`). */
export function addSleep(c: Compiled, object: string, seconds: number): void {
  c.plan.steps.push({ phase: 'wait', object, tool: 'exec', argv: ['sleep', String(seconds)] });
}

export interface JobResult {
  outcome: RunOutcome;
  /** out/NAME.txt, .err and .rc of each capture (read before the job directory is removed). */
  captures: Record<string, { stdout: string; stderr: string; rc: number | null }>;
  buildError?: string;
}

/** Builds, runs the appended steps, tears down; reads the captures; removes the job. */
export async function runJob(c: Compiled, runner: RunnerName, captureNames: string[], timeoutMs = 30 * 60_000): Promise<JobResult> {
  hookSignals();
  const r = await selectRunner(runner, c.plan.features);
  const job = writeJob(c);
  activeLabs.add(job.labId);
  try {
    const outcome = await r.run(job, 'all', { timeoutMs });
    const read = (f: string) => (existsSync(path.join(job.dir, 'out', f)) ? readFileSync(path.join(job.dir, 'out', f), 'utf8') : '');
    const captures: JobResult['captures'] = {};
    for (const n of captureNames) {
      const rc = read(`${n}.rc`).trim();
      captures[n] = { stdout: read(`${n}.txt`), stderr: read(`${n}.err`), rc: rc === '' ? null : Number(rc) };
    }
    const be = read('build-error').trim();
    return { outcome, captures, buildError: be || undefined };
  } finally {
    activeLabs.delete(job.labId);
    // DL_BENCH_KEEP=1 keeps job directories (manifest, captures, agent log) for a post-mortem.
    if (process.env.DL_BENCH_KEEP) process.stderr.write(`kept job ${job.dir}\n`);
    else removeJob(job);
  }
}

/** Whether `runner` can serve plans needing `features` here, and why not. */
export async function runnerServes(runner: RunnerName, features: Set<string>): Promise<{ ok: boolean; reason?: string }> {
  try {
    await selectRunner(runner, features);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message.split('\n').slice(1).join('; ').trim() || (e as Error).message };
  }
}
