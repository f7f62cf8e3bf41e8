// Flakiness report (scripts/bench/flake.ts) on synthetic suite results.
import test from 'ava';
import type { ScenarioReport } from '../../lab/run.ts';
import { flakeReport, formatFlake, outcomeOf } from '../../scripts/bench/flake.ts';

type R = Pick<ScenarioReport, 'id' | 'family' | 'passed' | 'error' | 'probes'>;
const check = (name: string, passed: boolean) => ({ name, expected: '', observed: '', passed, evidence: [] });
const rep = (id: string, failing: string[] = [], error?: string): R => ({
  id, family: 'eniip', passed: !failing.length && !error, error,
  probes: [{ id: 'p1', checks: [check('reachable', true), ...failing.map((f) => check(f, false))] } as unknown as ScenarioReport['probes'][number]],
});

test('outcome: pass, failing checks (sorted, per probe), broken', (t) => {
  t.is(outcomeOf(rep('a')), 'pass');
  t.is(outcomeOf(rep('a', ['seen: b', 'conntrack on ecs1'])), 'fail: p1 conntrack on ecs1; p1 seen: b');
  t.is(outcomeOf(rep('a', [], 'the build failed')), 'broken');
});

test('a scenario is flaky when its outcome changes, and not when it fails the same way', (t) => {
  const runs: R[][] = [
    [rep('a'), rep('b', ['x']), rep('c')],
    [rep('a'), rep('b', ['x']), rep('c', ['y'])],
    [rep('a'), rep('b', ['x']), rep('c', [], 'the run broke\nmore')],
  ];
  const e = flakeReport(runs);
  t.deepEqual(e.filter((x) => x.flaky).map((x) => x.id), ['c']);
  const c = e.find((x) => x.id === 'c')!;
  t.deepEqual(c.outcomes, { pass: [1], 'fail: p1 y': [2], broken: [3] });
  t.deepEqual(c.errors, { 3: 'the run broke' });
  const text = formatFlake(e, 3);
  t.regex(text, /3 scenarios × 3 runs: 1 flaky, 2 stable/);
  t.regex(text, /FLAKY c \(eniip\)/);
  t.regex(text, /stable but failing: b: fail: p1 x/);
});

test('a changed set of failing checks is flaky too', (t) => {
  const e = flakeReport([[rep('a', ['x'])], [rep('a', ['x', 'y'])]]);
  t.true(e[0]!.flaky);
});
