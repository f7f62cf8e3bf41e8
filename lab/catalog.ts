// The shipped catalogue: every topologies/*.yaml file and its scenarios.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { InputError } from './errors.ts';
import type { Scenario, Topology } from './model.ts';
import { loadTopology, TOPOLOGY_DIR } from './topology/load.ts';

export function catalogFiles(dir = TOPOLOGY_DIR): string[] {
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));
}

export function loadCatalog(dir = TOPOLOGY_DIR): Topology[] {
  return catalogFiles(dir).map((f) => loadTopology(f));
}

/** Finds scenario `id` in `file` when given, else in the shipped catalogue. */
export function locateScenario(id: string, file?: string): { topo: Topology; scenario: Scenario } {
  const topos = file ? [loadTopology(file)] : loadCatalog();
  for (const topo of topos) {
    const scenario = topo.scenarios.find((s) => s.id === id);
    if (scenario) return { topo, scenario };
  }
  const known = topos.flatMap((t) => t.scenarios.map((s) => s.id));
  throw new InputError([{
    file: file ?? TOPOLOGY_DIR, line: 0, column: 0, field: 'scenarios',
    message: `no scenario "${id}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
  }]);
}
