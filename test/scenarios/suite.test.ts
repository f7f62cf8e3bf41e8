// lab test under UML: one guest per worker runs its scenarios one after the other, each a clean
// lab. Two scenarios of different families (different kernel modules) in one worker: both pass
// with all their checks, and only the first carries a boot — the second ran in the same guest.
import test from 'ava';
import { locateScenario } from '../../lab/catalog.ts';
import { runSuite } from '../../lab/suite.ts';

test('lab test: one UML boot serves a worker\'s scenarios in turn', async (t) => {
  const items = ['eniip-1', 'trunk-1'].map((id) => locateScenario(id));
  const reports = await runSuite(items, { runner: 'uml', jobs: 1, timeoutMs: 5 * 60_000 });
  t.deepEqual(reports.map((r) => r.id), ['eniip-1', 'trunk-1']);
  for (const r of reports) {
    t.falsy(r.error, `${r.id} could not run: ${r.error}`);
    t.is(r.runner, 'uml');
    t.true(r.probes.length > 0 && r.probes.every((p) => p.checks.length > 0 && p.checks.every((c) => c.passed)), `${r.id} failed`);
  }
  t.true(reports[0]!.timings.boot > 0, 'the first scenario waited for the guest to boot');
  t.is(reports[1]!.timings.boot, 0, 'the second scenario ran in the same guest, without a boot');
});
