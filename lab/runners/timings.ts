// Phase timings from the agent's event log (out/events.tsv: "<epoch seconds>\t<event>...").
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface AgentEvents {
  build?: [number, number];
  probe?: [number, number];
  teardown?: [number, number];
  first?: number;
}

export function readEvents(jobDir: string): AgentEvents {
  let text = '';
  try {
    text = readFileSync(path.join(jobDir, 'out', 'events.tsv'), 'utf8');
  } catch {
    return {};
  }
  const ev: Record<string, number> = {};
  let first: number | undefined;
  for (const line of text.split('\n')) {
    const [ts, name] = line.split('\t');
    if (!ts || !name) continue;
    const t = Number(ts) * 1000;
    first ??= t;
    if (!(name in ev) || name.endsWith('-end') || name === 'captures-ready') ev[name] = t;
    if (name === 'probe-end') ev['last-probe-end'] = t;
  }
  const pair = (a?: number, z?: number): [number, number] | undefined => (a !== undefined && z !== undefined ? [a, z] : undefined);
  return {
    first,
    build: pair(ev['build-start'], ev['build-end']),
    // lab test's jobs answer at evidence-done, before their teardown starts: the probe phase (with
    // its dumps) ends there.
    probe: pair(ev['build-end'], ev['teardown-start'] ?? ev['evidence-done'] ?? ev['last-probe-end']),
    teardown: pair(ev['teardown-start'], ev['teardown-end']),
  };
}

export function span(p?: [number, number]): number {
  return p ? Math.max(0, Math.round(p[1] - p[0])) : 0;
}
