// Shared by the scenario tests: run one catalogue scenario under a runner and assert that every
// expectation held. A scenario that cannot run (no runner, broken build) is a failure with the
// reason, never a skip.
import type { ExecutionContext } from 'ava';
import { locateScenario } from '../../lab/catalog.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import { runScenario, type ScenarioReport } from '../../lab/run.ts';
import type { RunnerName } from '../../lab/runners/types.ts';
import { assertPictures, assertStories } from './story.ts';

export const TEST_RUNNER = (process.env.DL_TEST_RUNNER ?? 'uml') as RunnerName | 'auto';

export async function assertScenario(t: ExecutionContext, id: string, runner: RunnerName | 'auto' = TEST_RUNNER): Promise<ScenarioReport> {
  const { topo, scenario } = locateScenario(id);
  const report = await runScenario(topo, scenario, { runner, timeoutMs: 5 * 60_000 });
  t.log(`${id}: ${report.runner} ${report.kernel}, ${(report.timings.total / 1000).toFixed(1)} s`);
  if (!report.passed) t.log(renderScenario(report, true));
  t.falsy(report.error, `${id} could not run: ${report.error}`);
  t.true(report.probes.length > 0, `${id} produced no probe results`);
  for (const p of report.probes) {
    t.true(p.checks.length > 0, `${id} ${p.name}: no checks were evaluated`);
    for (const c of p.checks) t.true(c.passed, `${id} ${p.name}: ${c.name}: expected ${c.expected}, observed ${c.observed}`);
  }
  // The plan's module list is complete: the guest's kernel asked for no module by itself (each
  // request is a usermode-helper modprobe on the critical path; lab/runners/module-requests.ts).
  if (report.runner === 'uml') t.deepEqual(report.moduleRequests, [], `${id}: the kernel asked for modules missing from the plan's list`);
  if (!report.error) {
    assertStories(t, report, scenario); // the same run explains itself
    assertPictures(t, report); // and draws itself
  }
  return report;
}
