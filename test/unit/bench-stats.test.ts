// Benchmark statistics (scripts/bench/stats.ts): fits and growth verdicts on made-up series.
import test from 'ava';
import { fmt, linearFit, median, powerExponent, scaling, table } from '../../scripts/bench/stats.ts';

test('linear fit of an exact line', (t) => {
  const f = linearFit([10, 100, 1000], [150, 1050, 10050]);
  t.is(Math.round(f.slope * 1000) / 1000, 10);
  t.is(Math.round(f.intercept), 50);
  t.true(f.r2 > 0.9999);
});

test('power exponent: linear, quadratic', (t) => {
  t.is(Math.round(powerExponent([100, 1000, 5000], [1000, 10000, 50000]) * 100) / 100, 1);
  t.is(Math.round(powerExponent([100, 1000], [100, 10000]) * 100) / 100, 2);
});

test('scaling: per-pod cost, ratios, verdicts', (t) => {
  const lin = scaling([10, 100, 1000], [200, 1200, 10000]);
  t.deepEqual(lin.perUnit, [20, 12, 10]);
  t.deepEqual(lin.ratios.map((r) => Math.round(r * 100) / 100), [0.6, 0.83]);
  t.is(lin.verdict, 'linear');
  t.is(scaling([100, 1000], [100, 10000]).verdict, 'superlinear');
  t.is(scaling([100, 1000], [1000, 2000]).verdict, 'sublinear');
  // Only the two largest sizes count: a flat start does not hide growth at the top.
  const top = scaling([100, 1000, 5000], [1000, 10000, 150000]);
  t.is(top.verdict, 'superlinear');
  t.is(Math.round(top.exponent * 100) / 100, 1.68);
  // Fewer than two sizes ≥ 100: no verdict (fixed costs dominate small clusters).
  t.is(scaling([10, 100], [10, 50]).verdict, 'n/a');
  t.is(scaling([10, 50], [10, 50], 10).verdict, 'linear');
  t.is(scaling([10], [10]).verdict, 'n/a');
});

test('median, fmt, table', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 2, 3]), 2.5);
  t.is(fmt(undefined), '—');
  t.is(fmt(NaN), '—');
  t.is(fmt(1.234, 2), '1.23');
  t.is(table(['a', 'bb'], [['x', 1], ['yy', 22]]), 'a   bb\n--  --\nx    1\nyy  22');
});
