// Section 2: every catalogue scenario's wall time split into boot, build, probe and teardown,
// one at a time (parallel runs would share the two cores and distort each other).
import type { Topology } from '../../lab/model.ts';
import type { ScenarioReport } from '../../lab/run.ts';
import type { RunnerName } from '../../lab/runners/types.ts';
import { runSuite, selectScenarios } from '../../lab/suite.ts';
import type { Log } from './scale.ts';

export interface ScenarioRow {
  id: string;
  family: string;
  runner: string;
  passed: boolean;
  bootMs: number;
  buildMs: number;
  probeMs: number;
  teardownMs: number;
  totalMs: number;
  error?: string;
}

/** quick: the first scenario of each family; else all. */
export function pickScenarios(topos: Topology[], quick: boolean) {
  const all = selectScenarios(topos, {});
  if (!quick) return all;
  const seen = new Set<string>();
  return all.filter((x) => (seen.has(x.topo.family) ? false : (seen.add(x.topo.family), true)));
}

export async function benchScenarios(o: { topos: Topology[]; quick: boolean; runner: RunnerName | 'auto'; log: Log }): Promise<ScenarioRow[]> {
  const items = pickScenarios(o.topos, o.quick);
  const reports = await runSuite(items, { runner: o.runner, jobs: 1 }, {
    finished: (r, done, total) => o.log(`  [${done}/${total}] ${r.id} ${r.runner}: ${r.passed ? 'pass' : 'FAIL'} in ${r.timings.total} ms`),
  });
  return reports.map(scenarioRow);
}

/** A run's phases as a bench row (the scenarios and the goals sections alike). */
export function scenarioRow(r: ScenarioReport): ScenarioRow {
  return {
    id: r.id, family: r.family, runner: r.runner, passed: r.passed,
    bootMs: r.timings.boot, buildMs: r.timings.build, probeMs: r.timings.probe, teardownMs: r.timings.teardown, totalMs: r.timings.total,
    error: r.error?.split('\n')[0],
  };
}
