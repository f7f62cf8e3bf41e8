// Small statistics and table formatting for the benchmarks. Pure.

/** Least-squares line y = slope·x + intercept, with R². */
export function linearFit(xs: number[], ys: number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  if (n < 2 || n !== ys.length) return { slope: NaN, intercept: NaN, r2: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}

/** Exponent b of y ≈ a·x^b (least squares on log-log), over points with x, y > 0. */
export function powerExponent(xs: number[], ys: number[]): number {
  const pts = xs.map((x, i) => [x, ys[i]!] as const).filter(([x, y]) => x > 0 && y > 0);
  if (pts.length < 2) return NaN;
  return linearFit(pts.map(([x]) => Math.log(x)), pts.map(([, y]) => Math.log(y))).slope;
}

export interface Scaling {
  /** Cost per unit at each size. */
  perUnit: number[];
  /** perUnit[i] / perUnit[i-1]: 1 means the cost per pod did not change between the sizes. */
  ratios: number[];
  /** Least-squares line over all sizes: slope = marginal cost per unit. */
  fit: { slope: number; intercept: number; r2: number };
  /** y ∝ x^exponent between the two largest sizes ≥ `from` (fixed costs dominate tiny clusters). */
  exponent: number;
  verdict: 'linear' | 'superlinear' | 'sublinear' | 'n/a';
}

/**
 * How a cost grows with size: per-unit cost and its ratio between consecutive sizes, a linear
 * fit, and the log-log exponent between the two largest sizes ≥ `from` (fixed costs dominate
 * smaller clusters).
 * Verdict: linear for an exponent within [0.85, 1.15]; n/a with fewer than two sizes ≥ `from`.
 */
export function scaling(sizes: number[], costs: number[], from = 100): Scaling {
  const perUnit = sizes.map((s, i) => costs[i]! / s);
  const ratios = perUnit.slice(1).map((p, i) => p / perUnit[i]!);
  const fit = linearFit(sizes, costs);
  // The two largest sizes: growth at the top end is what a bigger cluster will meet (a fit over
  // all points would let the flat small sizes hide it).
  const idx = sizes.map((_, i) => i).filter((i) => sizes[i]! >= from).slice(-2);
  const exponent = idx.length >= 2 ? powerExponent(idx.map((i) => sizes[i]!), idx.map((i) => costs[i]!)) : NaN;
  const verdict = Number.isNaN(exponent) ? 'n/a' : exponent > 1.15 ? 'superlinear' : exponent < 0.85 ? 'sublinear' : 'linear';
  return { perUnit, ratios, fit, exponent, verdict };
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A number for a table: '—' for missing, fixed decimals otherwise. */
export function fmt(v: number | undefined | null, digits = 0): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  return v.toFixed(digits);
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const w = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  ').trimEnd();
  return [line(headers), line(w.map((x) => '-'.repeat(x))), ...cells.slice(1).map(line)].join('\n');
}
