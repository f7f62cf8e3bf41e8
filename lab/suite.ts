// `lab test`: many scenarios in one go — selected by family, glob and shard — run in parallel
// where the runner allows (each UML guest is its own kernel; native labs are isolated by lab id),
// bounded by the cores and memory. Under UML each worker boots one guest and runs its scenarios
// in it one after the other, each a clean lab (built, probed, torn down): one boot per worker.
import os from 'node:os';
import { compileScenario } from './compile.ts';
import type { Scenario, Topology } from './model.ts';
import { runScenario, type ScenarioReport } from './run.ts';
import type { Job } from './runners/job.ts';
import type { RunnerName, RunOutcome } from './runners/types.ts';
import { UmlGuest } from './runners/uml-queue.ts';

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

/**
 * Workers: at most the cores, and for UML at most what memory holds (a guest has mem=1G but
 * touches far less; 512 MiB each is what a busy guest was seen to use, kept free for the host).
 */
export function workerCount(items: number, wanted?: number): number {
  const byMemory = Math.max(1, Math.floor((os.freemem() - 512 * 2 ** 20) / (512 * 2 ** 20)));
  return Math.max(1, Math.min(wanted ?? Math.min(os.availableParallelism(), byMemory), items));
}

/** Every kernel module the selected scenarios' plans ask for (a UML guest loads them at boot). */
function modulesOf(items: { topo: Topology; scenario: Scenario }[]): string[] {
  const out = new Set<string>();
  for (const { topo, scenario } of items) {
    try {
      for (const m of compileScenario(topo, scenario, 'mods00').plan.modules) out.add(m);
    } catch { /* the scenario's own run reports why it does not compile */ }
  }
  return [...out];
}

export async function runSuite(items: { topo: Topology; scenario: Scenario }[], opts: { runner: RunnerName | 'auto'; jobs?: number; timeoutMs?: number }, ev: SuiteEvents = {}): Promise<ScenarioReport[]> {
  const jobs = workerCount(items.length, opts.jobs);
  const results: ScenarioReport[] = new Array(items.length);
  const modules = opts.runner === 'native' || opts.runner === 'docker' ? [] : modulesOf(items);
  const guests = new Set<UmlGuest>();
  // Ctrl-C or TERM: the guests power off (their labs go with them).
  const stopAll = () => { for (const g of guests) void g.stop(); };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  let next = 0;
  let done = 0;
  const worker = async () => {
    // One UML guest per worker, booted when its first UML scenario comes, reused for the next ones.
    let guest: UmlGuest | undefined;
    const execute = async (job: Job, runner: RunnerName): Promise<RunOutcome | undefined> => {
      if (runner !== 'uml') return undefined;
      if (!guest?.alive) {
        guest = await UmlGuest.boot(modules);
        guests.add(guest);
      }
      return guest.run(job, opts.timeoutMs);
    };
    try {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        const { topo, scenario } = items[i]!;
        ev.started?.(scenario.id);
        let r: ScenarioReport;
        try {
          r = await runScenario(topo, scenario, { runner: opts.runner, timeoutMs: opts.timeoutMs, execute });
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
    } finally {
      if (guest) {
        await guest.stop();
        guests.delete(guest);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
  return results;
}
