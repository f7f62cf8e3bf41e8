// Section "goals": the UML speed goals as ratios to a bare UML boot measured in the same run, so
// they hold on any machine (issue: a scenario in three boots, the catalogue in sixty):
//   bare boot   linux.uml with an init that mounts /proc, writes /proc/exitcode and powers off
//   eniip-5     one scenario end to end (compile, boot, build, probes, teardown, checks), as `lab scenario` does
//   catalogue   every scenario with `lab test` (one guest per worker), wall time
// Each of them is run `reps` times (the catalogue once) and the median kept; every scenario's
// phases come from the catalogue run.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locateScenario } from '../../lab/catalog.ts';
import type { Topology } from '../../lab/model.ts';
import { runScenario } from '../../lab/run.ts';
import { ensureShim, umlBinary } from '../../lab/runners/uml.ts';
import { runSuite, selectScenarios, workerCount } from '../../lab/suite.ts';
import type { Log } from './scale.ts';
import { median } from './stats.ts';
import { scenarioRow, type ScenarioRow } from './scenarios.ts';

export interface GoalsResult {
  bareBootMs: number[];
  eniip5Ms: number[];
  eniip5Phases?: ScenarioRow;
  catalogueMs?: number;
  catalogueWorkers?: number;
  scenarios: ScenarioRow[];
  ratios: { eniip5: number; catalogue?: number };
  goals: { eniip5: 3; catalogue: 60 };
  failed: string[];
}

const BARE_INIT = '#!/bin/sh\nmount -t proc proc /proc\necho 0 > /proc/exitcode\nexec poweroff -f -f\n';

/** One bare boot to poweroff, in ms (the floor of the uml runner). */
export function bareBoot(): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-bare-'));
  try {
    const init = path.join(dir, 'init.sh');
    writeFileSync(init, BARE_INIT);
    chmodSync(init, 0o755);
    const t0 = Date.now();
    const r = spawnSync(umlBinary() ?? 'linux.uml', ['mem=1G', 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${init}`,
      'con=null', 'con0=fd:0,fd:1', `umid=dl-bare-${process.pid}`, `uml_dir=${dir}`, 'quiet'], { stdio: 'ignore', env: { ...process.env, LD_PRELOAD: ensureShim() }, timeout: 60_000 });
    const ms = Date.now() - t0;
    if (r.status !== 0) throw new Error(`bare UML boot ended with status ${r.status ?? r.signal}`);
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchGoals(o: { topos: Topology[]; reps: number; catalogue: boolean; log: Log }): Promise<GoalsResult> {
  const out: GoalsResult = { bareBootMs: [], eniip5Ms: [], scenarios: [], ratios: { eniip5: 0 }, goals: { eniip5: 3, catalogue: 60 }, failed: [] };
  const { topo, scenario } = locateScenario('eniip-5');
  // Interleaved, so that a change of load on the machine touches both alike.
  for (let i = 0; i < o.reps; i++) {
    out.bareBootMs.push(bareBoot());
    const t0 = Date.now();
    const r = await runScenario(topo, scenario, { runner: 'uml' });
    out.eniip5Ms.push(Date.now() - t0);
    if (!r.passed) out.failed.push(`eniip-5 (run ${i + 1}): ${r.error?.split('\n')[0] ?? 'checks failed'}`);
    out.eniip5Phases = scenarioRow(r);
    o.log(`  bare boot ${out.bareBootMs.at(-1)} ms, eniip-5 ${out.eniip5Ms.at(-1)} ms`);
  }
  const boot = median(out.bareBootMs);
  out.ratios.eniip5 = median(out.eniip5Ms) / boot;
  if (o.catalogue) {
    const items = selectScenarios(o.topos, {});
    out.catalogueWorkers = workerCount(items.length);
    const t0 = Date.now();
    const reports = await runSuite(items, { runner: 'uml' }, {
      finished: (r, done, total) => o.log(`  [${done}/${total}] ${r.id}: ${r.passed ? 'pass' : 'FAIL'} in ${r.timings.total} ms`),
    });
    out.catalogueMs = Date.now() - t0;
    out.scenarios = reports.map(scenarioRow);
    out.failed.push(...reports.filter((r) => !r.passed).map((r) => `${r.id}: ${r.error?.split('\n')[0] ?? 'checks failed'}`));
    out.bareBootMs.push(bareBoot()); // and one more boot after the catalogue
    out.ratios.catalogue = out.catalogueMs / median(out.bareBootMs);
    out.ratios.eniip5 = median(out.eniip5Ms) / median(out.bareBootMs);
  }
  return out;
}
