// One lab lifecycle for every verb that builds (scenario, test, up, explain, lb list):
// compile → pick a runner → make the lab (its folder and journal) and write the job → run the
// agent → tear down by the journal → remove the folder. Verbs differ only in the phase they run
// and in what they read from the evidence.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileScenario, type Compiled } from './compile.ts';
import type { Scenario, Topology } from './model.ts';
import { newLabId } from './names.ts';
import { selectRunner } from './runners/index.ts';
import { removeJob, writeJob, type Job } from './runners/job.ts';
import type { AgentPhase, Runner, RunnerName, RunOutcome } from './runners/types.ts';
import { writeRecord } from './state/labs.ts';

export interface Lab {
  job: Job;
  runner: Runner;
  compiled: Compiled;
}

export function compileLab(topo: Topology, scenario: Scenario, labId?: string): Compiled {
  return compileScenario(topo, scenario, labId ?? newLabId());
}

/**
 * Picks the runner (exit 3 when none can serve), then makes the lab: folder, journal, job, record.
 * Nothing is built yet; a journal or job that cannot be written is exit 4 with nothing left.
 */
export async function openLab(compiled: Compiled, what: { topo: Topology; scenario: Scenario; runner: RunnerName | 'auto'; mode: 'run' | 'up' }): Promise<Lab> {
  const runner = await selectRunner(what.runner, compiled.plan.features);
  const job = writeJob(compiled);
  try {
    writeRecord(job.dir, {
      labId: job.labId, scenario: what.scenario.id, file: what.topo.file, mode: what.mode, createdAt: new Date().toISOString(),
      objects: compiled.plan.namespaces.map((n) => ({ object: n.object, kind: n.kind, ns: n.ns })),
    });
  } catch (e) {
    removeJob(job);
    throw e;
  }
  return { job, runner, compiled };
}

export function runLab(lab: Lab, phase: AgentPhase, timeoutMs?: number): Promise<RunOutcome> {
  return lab.runner.run(lab.job, phase, { timeoutMs });
}

/** Removes the lab's folder (the agent has torn the lab down by its journal by then). */
export function closeLab(lab: Lab, keep = false): void {
  if (!keep) removeJob(lab.job);
}

/** Why the agent did not finish: its status, the failed step, its log. */
export function agentError(job: Job, o: RunOutcome): string {
  const status = o.agentStatus === 11 ? 'the build failed' : o.agentStatus === 12 ? 'the run broke' : o.agentStatus === 13 ? "the lab's journal could not be written"
    : o.agentStatus === 14 ? 'a tool in the lab failed to start (a broken run, not a datapath result)' : `the agent exited with ${o.agentStatus}`;
  let detail = o.log.trim();
  for (const f of ['build-error', 'tool-error']) {
    try {
      detail = `${readFileSync(path.join(job.dir, 'out', f), 'utf8').trim()}\n${detail}`.trim();
    } catch { /* not there */ }
  }
  return `${status} on the ${o.runner} runner${detail ? `:\n${detail.split('\n').slice(0, 20).join('\n')}` : ''}`;
}
