// One scenario run: the lab lifecycle (lifecycle.ts) with phase `all`, then the evidence read and
// evaluated. The lab's folder is removed afterwards unless the caller keeps it.
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { agentError, closeLab, compileLab, openLab, runLab } from './lifecycle.ts';
import type { Scenario, Topology } from './model.ts';
import type { Plan } from './plan.ts';
import { analyze, type ProbeResult } from './checks/analyze.ts';
import { stories, type Story } from './explain/story.ts';
import type { RunnerName, RunOutcome } from './runners/types.ts';
import type { Job } from './runners/job.ts';
import { missingModules, readModuleRequests } from './runners/module-requests.ts';

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
  /** Where the run's capture was copied (--pcap): one pcapng, every interface named object:iface. */
  pcap?: string;
  /** Modules the guest's kernel had to have loaded during the run because the plan's list lacked
   *  them (UML: lab/runners/module-requests.ts); none when the list is complete. */
  moduleRequests?: string[];
}

export interface RunOptions {
  runner: RunnerName | 'auto';
  keep?: boolean;
  timeoutMs?: number;
  labId?: string;
  /** Runs the job in place of the selected runner when it returns an outcome (lab test: a running UML guest). */
  execute?: (job: Job, runner: RunnerName) => Promise<RunOutcome | undefined>;
  /** Copy the run's capture (out/capture.pcapng, written by dlcap) here before the lab folder goes. */
  pcap?: string;
}

/** The run's one capture stream, copied for Wireshark or `tcpdump -r`; false when the run has none
 *  (the agent fell back to tcpdump text, or broke before capturing) or it could not be written. */
export function copyCapture(jobDir: string, to: string): boolean {
  const src = path.join(jobDir, 'out', 'capture.pcapng');
  if (!existsSync(src)) return false;
  // O_NOFOLLOW: a symbolic link put at the target after the option was checked is refused, not
  // followed (false: not written; the caller says so). Never throws: the lab is removed after it.
  let fd: number | undefined;
  try {
    fd = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    writeFileSync(fd, readFileSync(src));
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Probes with no line in out/probes.out: the agent never tried them (it broke between the build
 *  and the probe, e.g. out of file descriptors). Fail closed: no evidence is not "unreachable". */
export function unattempted(jobDir: string, ids: string[]): string[] {
  let text = '';
  try {
    text = readFileSync(path.join(jobDir, 'out', 'probes.out'), 'utf8');
  } catch { /* none at all */ }
  const seen = new Set(text.split('\n').map((l) => l.split('\t')[0]));
  return ids.filter((id) => !seen.has(id));
}

function agentLogTail(jobDir: string, log: string): string {
  let text = log;
  try {
    text = `${readFileSync(path.join(jobDir, 'out', 'agent.log'), 'utf8')}\n${log}`;
  } catch { /* native: the log came back in the outcome */ }
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-8);
  return lines.length ? `:\n${lines.join('\n')}` : '';
}

export async function runScenario(topo: Topology, scenario: Scenario, opts: RunOptions): Promise<ScenarioReport> {
  const lab = await openLab(compileLab(topo, scenario, opts.labId), { topo, scenario, runner: opts.runner, mode: 'run' });
  const { job, compiled } = lab;
  let report: ScenarioReport | undefined;
  try {
    const outcome = (await opts.execute?.(job, lab.runner.name)) ?? (await runLab(lab, 'all', opts.timeoutMs));
    report = {
      id: scenario.id, labId: compiled.plan.labId, title: scenario.title, family: topo.family, file: topo.file,
      runner: outcome.runner, kernel: outcome.kernel, passed: false, timings: outcome.timings, probes: [],
      jobDir: opts.keep ? job.dir : undefined, plan: compiled.plan, moduleRequests: missingModules(readModuleRequests(job.dir)),
    };
    if (outcome.agentStatus !== 0) {
      report.error = agentError(job, outcome);
      return report;
    }
    const unrun = unattempted(job.dir, compiled.probes.map((p) => p.id));
    if (unrun.length) {
      report.error = `the run broke on the ${outcome.runner} runner: the agent recorded no attempt of probe ${unrun.join(', ')} (a broken run, not a datapath result)${agentLogTail(job.dir, outcome.log)}`;
      return report;
    }
    report.probes = analyze(topo, compiled, job.dir);
    report.stories = stories(topo, compiled, job.dir, report.probes);
    report.passed = report.probes.length > 0 && report.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed));
    return report;
  } finally {
    if (opts.pcap && copyCapture(job.dir, opts.pcap) && report) report.pcap = opts.pcap;
    closeLab(lab, opts.keep);
  }
}
