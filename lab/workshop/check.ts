// `lab check`: the scenario's probes and expectations again, on a lab that is up (after hand edits,
// as netlab's `validate` re-checks a running lab): the same report, stories and exit status as
// `lab scenario`, from the same compiled plan (the lab id fixes every name), run by the path every
// live-lab probe takes (lab/workshop/live.ts).
import { locateScenario } from '../catalog.ts';
import { compileScenario } from '../compile.ts';
import type { LabState } from '../interactive.ts';
import type { ScenarioReport } from '../run.ts';
import { probeLive } from './live.ts';

export async function checkLab(s: LabState, pcap?: string): Promise<ScenarioReport> {
  const { topo, scenario } = locateScenario(s.scenario, s.file);
  const compiled = compileScenario(topo, scenario, s.labId);
  const run = await probeLive(s, topo, compiled, pcap);
  const report: ScenarioReport = {
    id: scenario.id, labId: s.labId, title: scenario.title, family: topo.family, file: topo.file, runner: s.runner, kernel: '(the running lab)',
    passed: false, timings: { boot: 0, build: 0, probe: run.probeMs, teardown: 0, total: run.probeMs }, probes: run.probes, plan: compiled.plan,
    stories: run.stories, pcap: run.pcap,
  };
  if (run.error) report.error = run.error;
  report.passed = !run.error && report.probes.length > 0 && report.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed));
  return report;
}
