// Orchestration of one scenario: compile, pick a runner, write the job, run the agent, read the
// evidence, evaluate. The job directory is removed afterwards unless the caller keeps it.
import { readFileSync } from 'node:fs';
import { compileScenario, type Compiled } from './compile.ts';
import { InputError } from './errors.ts';
import type { Scenario, Topology } from './model.ts';
import type { Plan } from './plan.ts';
import { newLabId } from './names.ts';
import { analyze, type ProbeResult } from './probes/analyze.ts';
import { selectRunner } from './runners/index.ts';
import { removeJob, writeJob, type Job } from './runners/job.ts';
import type { RunnerName, RunOutcome } from './runners/types.ts';

export interface ScenarioReport {
  id: string;
  labId: string;
  title: string;
  family: string;
  file: string;
  runner: RunnerName;
  kernel: string;
  passed: boolean;
  error?: string;
  timings: RunOutcome['timings'];
  probes: ProbeResult[];
  jobDir?: string;
  /** What was built (for diagrams and explanations; not part of --json). */
  plan?: Plan;
}

export function findScenario(topo: Topology, id: string): Scenario {
  const s = topo.scenarios.find((x) => x.id === id);
  if (!s) {
    throw new InputError([{ file: topo.file, line: 0, column: 0, field: 'scenarios', message: `no scenario "${id}" (has: ${topo.scenarios.map((x) => x.id).join(', ')})` }]);
  }
  return s;
}

export interface RunOptions {
  runner: RunnerName | 'auto';
  keep?: boolean;
  timeoutMs?: number;
  labId?: string;
}

export async function runScenario(topo: Topology, scenario: Scenario, opts: RunOptions): Promise<ScenarioReport> {
  const compiled: Compiled = compileScenario(topo, scenario, opts.labId ?? newLabId());
  const runner = await selectRunner(opts.runner, compiled.plan.features);
  const job: Job = writeJob(compiled);
  try {
    const outcome = await runner.run(job, 'all', { timeoutMs: opts.timeoutMs });
    const report: ScenarioReport = {
      id: scenario.id, labId: compiled.plan.labId, title: scenario.title, family: topo.family, file: topo.file,
      runner: outcome.runner, kernel: outcome.kernel, passed: false, timings: outcome.timings, probes: [],
      jobDir: opts.keep ? job.dir : undefined, plan: compiled.plan,
    };
    if (outcome.agentStatus !== 0) {
      report.error = agentError(job, outcome);
      return report;
    }
    report.probes = analyze(topo, compiled, job.dir);
    report.passed = report.probes.length > 0 && report.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed));
    return report;
  } finally {
    if (!opts.keep) removeJob(job);
  }
}

function agentError(job: Job, o: RunOutcome): string {
  const status = o.agentStatus === 11 ? 'the build failed' : o.agentStatus === 12 ? 'the run broke' : `the agent exited with ${o.agentStatus}`;
  let detail = o.log.trim();
  try {
    const be = readFileSync(`${job.dir}/out/build-error`, 'utf8');
    detail = `${be.trim()}\n${detail}`.trim();
  } catch { /* no build error file */ }
  return `${status} on the ${o.runner} runner${detail ? `:\n${detail.split('\n').slice(0, 20).join('\n')}` : ''}`;
}
