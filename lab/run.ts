// One scenario run: the lab lifecycle (lifecycle.ts) with phase `all`, then the evidence read and
// evaluated. The lab's folder is removed afterwards unless the caller keeps it.
import { agentError, closeLab, compileLab, openLab, runLab } from './lifecycle.ts';
import type { Scenario, Topology } from './model.ts';
import type { Plan } from './plan.ts';
import { analyze, type ProbeResult } from './checks/analyze.ts';
import { stories, type Story } from './explain/story.ts';
import type { RunnerName, RunOutcome } from './runners/types.ts';
import type { Job } from './runners/job.ts';

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
  /** Each probe's story (hops, rewrites, verdict) from the same evidence, for explain and pictures. */
  stories?: Story[];
}

export interface RunOptions {
  runner: RunnerName | 'auto';
  keep?: boolean;
  timeoutMs?: number;
  labId?: string;
  /** Runs the job in place of the selected runner when it returns an outcome (lab test: a running UML guest). */
  execute?: (job: Job, runner: RunnerName) => Promise<RunOutcome | undefined>;
}

export async function runScenario(topo: Topology, scenario: Scenario, opts: RunOptions): Promise<ScenarioReport> {
  const lab = await openLab(compileLab(topo, scenario, opts.labId), { topo, scenario, runner: opts.runner, mode: 'run' });
  const { job, compiled } = lab;
  try {
    const outcome = (await opts.execute?.(job, lab.runner.name)) ?? (await runLab(lab, 'all', opts.timeoutMs));
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
    report.stories = stories(topo, compiled, job.dir, report.probes);
    report.passed = report.probes.length > 0 && report.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed));
    return report;
  } finally {
    closeLab(lab, opts.keep);
  }
}
