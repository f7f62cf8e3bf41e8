// `lab test`: many scenarios in one go — selected by family, glob and shard — run in parallel
// where the runner allows (each UML guest is its own kernel; native labs are isolated by lab id),
// bounded by the number of cores.
import os from 'node:os';
import type { Scenario, Topology } from './model.ts';
import { runScenario, type ScenarioReport } from './run.ts';
import type { RunnerName } from './runners/types.ts';

export interface Selection {
  family?: string;
  match?: string; // glob on the scenario id: * and ?
  shard?: { index: number; total: number }; // 1-based index
}

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
}

export function parseShard(s: string): { index: number; total: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new Error(`--shard wants i/n with 1 ≤ i ≤ n (got "${s}")`);
  return { index: Number(m[1]), total: Number(m[2]) };
}

/** Scenarios in catalogue order; shard i/n takes every n-th starting at i (stable across machines). */
export function selectScenarios(topos: Topology[], sel: Selection): { topo: Topology; scenario: Scenario }[] {
  const re = sel.match ? globToRegExp(sel.match) : undefined;
  const all = topos.flatMap((topo) => topo.scenarios.map((scenario) => ({ topo, scenario })))
    .filter((x) => (!sel.family || x.topo.family === sel.family) && (!re || re.test(x.scenario.id)));
  return sel.shard ? all.filter((_, i) => i % sel.shard!.total === sel.shard!.index - 1) : all;
}

export interface SuiteEvents {
  started?(id: string): void;
  finished?(r: ScenarioReport, done: number, total: number): void;
}

export async function runSuite(items: { topo: Topology; scenario: Scenario }[], opts: { runner: RunnerName | 'auto'; jobs?: number; timeoutMs?: number }, ev: SuiteEvents = {}): Promise<ScenarioReport[]> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? os.availableParallelism(), items.length));
  const results: ScenarioReport[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const { topo, scenario } = items[i]!;
      ev.started?.(scenario.id);
      let r: ScenarioReport;
      try {
        r = await runScenario(topo, scenario, { runner: opts.runner, timeoutMs: opts.timeoutMs });
      } catch (err) {
        // A scenario that cannot run is a failure with its reason, never a skip.
        r = {
          id: scenario.id, labId: '', title: scenario.title, family: topo.family, file: topo.file, runner: opts.runner === 'auto' ? 'uml' : opts.runner,
          kernel: 'n/a', passed: false, error: (err as Error).message, timings: { boot: 0, build: 0, probe: 0, teardown: 0, total: 0 }, probes: [],
        };
      }
      results[i] = r;
      ev.finished?.(r, ++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}
