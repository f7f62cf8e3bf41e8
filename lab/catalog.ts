// The shipped catalogue: every topologies/*.yaml file and its scenarios.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { EXIT, LabError } from './errors.ts';
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
  const near = closest(id, known);
  // Not a position in a file: a usage error, with the nearest ids and where to see them all.
  throw new LabError(`no scenario "${id}"${file ? ` in ${file}` : ''}${near.length ? `: did you mean ${near.map((x) => `"${x}"`).join(' or ')}?` : ''} (\`lab list${file ? ` -f ${file}` : ''}\` shows all ${known.length})`, EXIT.usage);
}

/** Levenshtein distance (insert, delete, substitute: 1 each). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known ids nearest to `id` (at most 3, within a third of its length), nearest first. */
export function closest(id: string, known: string[]): string[] {
  const max = Math.max(2, Math.ceil(id.length / 3));
  return known.map((k) => ({ k, d: editDistance(id.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= max).sort((a, b) => a.d - b.d || a.k.localeCompare(b.k)).slice(0, 3).map((x) => x.k);
}
