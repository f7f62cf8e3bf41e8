// npm run flake -- [--runs 20] [--family F] [--match GLOB] [--runner auto|native|uml] [--jobs N] [--json FILE]
// Runs the selected catalogue scenarios N times (lab/suite.ts runSuite) and reports every scenario
// whose outcome — pass/fail and the set of failing check names — changed between runs.
// Exit status: 0 no scenario flaky, 1 some flaky, 2 usage.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCatalog } from '../lab/catalog.ts';
import type { RunnerName } from '../lab/runners/types.ts';
import { runSuite, selectScenarios } from '../lab/suite.ts';
import { flakeReport, formatFlake, outcomeOf } from './bench/flake.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    family: { type: 'string' },
    match: { type: 'string' },
    runner: { type: 'string', default: 'auto' },
    jobs: { type: 'string' },
    json: { type: 'string' },
  },
});
const fail = (m: string): never => {
  process.stderr.write(`flake: ${m}\n`);
  process.exit(2);
};
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 2) fail(`--runs wants an integer ≥ 2 (got "${values.runs}")`);
if (!['auto', 'native', 'uml'].includes(values.runner!)) fail(`--runner wants auto, native or uml (got "${values.runner}")`);
const jobs = values.jobs ? Number(values.jobs) : undefined;
if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1)) fail(`--jobs wants a positive integer (got "${values.jobs}")`);

const items = selectScenarios(loadCatalog(), { family: values.family, match: values.match });
if (!items.length) fail('no scenario matches the selection');
process.stderr.write(`flake: ${items.length} scenarios × ${runs} runs on ${values.runner}\n`);
const all = [];
for (let i = 1; i <= runs; i++) {
  const reports = await runSuite(items, { runner: values.runner as RunnerName | 'auto', jobs });
  const bad = reports.filter((r) => !r.passed);
  process.stderr.write(`run ${i}/${runs}: ${reports.length - bad.length} passed, ${bad.length} failed${bad.length ? ` (${bad.map((r) => `${r.id}: ${outcomeOf(r)}`).join('; ').slice(0, 400)})` : ''}\n`);
  all.push(reports);
}
const entries = flakeReport(all);
console.log(formatFlake(entries, runs));
if (values.json) writeFileSync(values.json, JSON.stringify({ runs, selection: { family: values.family, match: values.match, runner: values.runner }, scenarios: entries }, null, 2) + '\n');
process.exit(entries.some((e) => e.flaky) ? 1 : 0);
