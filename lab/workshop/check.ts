// `lab check`: the scenario's probes and expectations again, on a lab that is up (after hand edits,
// as netlab's `validate` re-checks a running lab): the same report, stories and exit status as
// `lab scenario`, from the same compiled plan (the lab id fixes every name). Evidence of the
// previous check is moved aside first, so that this one reads only its own probes.
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { locateScenario } from '../catalog.ts';
import { analyze } from '../checks/analyze.ts';
import { compileScenario } from '../compile.ts';
import { EXIT, LabError } from '../errors.ts';
import { stories } from '../explain/story.ts';
import { agentPhase, alive, type LabState } from '../interactive.ts';
import type { ScenarioReport } from '../run.ts';

/** Moves the previous probe evidence (probe results, events, dumps, captures) to out/earlier-N/. */
function setAside(jobDir: string): void {
  const out = path.join(jobDir, 'out');
  if (!existsSync(out)) return;
  const moving = readdirSync(out).filter((f) => f === 'probes.out' || f === 'events.tsv' || f === 'dump' || f.startsWith('capture') || f.startsWith('bulk-') || f.startsWith('probe-'));
  if (!moving.length) return;
  let n = 1;
  while (existsSync(path.join(out, `earlier-${n}`))) n++;
  const dest = path.join(out, `earlier-${n}`);
  mkdirSync(dest);
  for (const f of moving) renameSync(path.join(out, f), path.join(dest, f));
}

export async function checkLab(s: LabState): Promise<ScenarioReport> {
  if (!alive(s)) throw new LabError(`lab ${s.labId} is not running (lab status; lab down ${s.labId} cleans it)`, EXIT.usage);
  const { topo, scenario } = locateScenario(s.scenario, s.file);
  const compiled = compileScenario(topo, scenario, s.labId);
  setAside(s.jobDir);
  const t0 = Date.now();
  const rc = await agentPhase(s, 'probe');
  const probeMs = Date.now() - t0;
  const report: ScenarioReport = {
    id: scenario.id, labId: s.labId, title: scenario.title, family: topo.family, file: topo.file, runner: s.runner, kernel: '(the running lab)',
    passed: false, timings: { boot: 0, build: 0, probe: probeMs, teardown: 0, total: probeMs }, probes: [], plan: compiled.plan,
  };
  if (rc !== 0) {
    report.error = `the probes could not run on lab ${s.labId} (agent status ${rc})`;
    return report;
  }
  report.probes = analyze(topo, compiled, s.jobDir);
  report.stories = stories(topo, compiled, s.jobDir, report.probes);
  report.passed = report.probes.length > 0 && report.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed));
  return report;
}
