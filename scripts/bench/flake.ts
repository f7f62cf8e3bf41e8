// Flakiness: the same scenarios run N times; a scenario is flaky when its outcome — pass/fail and
// the set of failing check names (or "broken" when the run itself broke) — differs between runs.
// Pure: unit-tested in test/unit/bench-flake.test.ts.
import type { ScenarioReport } from '../../lab/run.ts';

/** One run's outcome of a scenario, as a comparable string. */
export function outcomeOf(r: Pick<ScenarioReport, 'passed' | 'error' | 'probes'>): string {
  if (r.passed) return 'pass';
  if (r.error) return 'broken';
  const failing = [...new Set(r.probes.flatMap((p) => p.checks.filter((c) => !c.passed).map((c) => `${p.id} ${c.name}`)))].sort();
  return failing.length ? `fail: ${failing.join('; ')}` : 'fail: no checks';
}

export interface FlakeEntry {
  id: string;
  family: string;
  /** outcome → the 1-based runs that had it. */
  outcomes: Record<string, number[]>;
  /** First line of each broken run's error, by run. */
  errors: Record<number, string>;
  flaky: boolean;
}

/** runs[i] = the reports of run i+1 (any order). */
export function flakeReport(runs: Pick<ScenarioReport, 'id' | 'family' | 'passed' | 'error' | 'probes'>[][]): FlakeEntry[] {
  const byId = new Map<string, FlakeEntry>();
  runs.forEach((reports, i) => {
    for (const r of reports) {
      let e = byId.get(r.id);
      if (!e) byId.set(r.id, (e = { id: r.id, family: r.family, outcomes: {}, errors: {}, flaky: false }));
      const o = outcomeOf(r);
      (e.outcomes[o] ??= []).push(i + 1);
      if (r.error) e.errors[i + 1] = r.error.split('\n')[0]!;
    }
  });
  const out = [...byId.values()];
  for (const e of out) e.flaky = Object.keys(e.outcomes).length > 1;
  return out;
}

/** Text report: flaky scenarios with their outcomes and the runs of each; stable ones counted. */
export function formatFlake(entries: FlakeEntry[], runs: number): string {
  const flaky = entries.filter((e) => e.flaky);
  const stable = entries.filter((e) => !e.flaky);
  const lines = [`${entries.length} scenarios × ${runs} runs: ${flaky.length} flaky, ${stable.length} stable`];
  for (const e of flaky) {
    lines.push(`FLAKY ${e.id} (${e.family})`);
    for (const [o, rs] of Object.entries(e.outcomes).sort((a, b) => b[1].length - a[1].length)) {
      lines.push(`  ${rs.length}× ${o}  (runs ${rs.join(', ')})`);
    }
    for (const [run, err] of Object.entries(e.errors)) lines.push(`  run ${run} broke: ${err}`);
  }
  const stableFail = stable.filter((e) => !('pass' in e.outcomes));
  for (const e of stableFail) lines.push(`stable but failing: ${e.id}: ${Object.keys(e.outcomes)[0]}`);
  return lines.join('\n');
}
