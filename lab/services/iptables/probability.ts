/**
 * `-m statistic --mode random --probability` values, as kube-proxy writes them and as the kernel gives
 * them back.
 *
 * kube-proxy (`pkg/proxy/iptables/proxier.go`):
 *
 *   func computeProbability(n int) string { return fmt.Sprintf("%0.10f", 1.0/float64(n)) }
 *   ... for i, ep := range endpoints { if i < n-1 { "--probability", proxier.probability(n-i) } }
 *
 * so endpoint i of n (0-based) gets 1/(n-i) and the last endpoint's rule has no statistic match.
 *
 * The kernel keeps the probability as a u32 (libxt_statistic: `lround(0x80000000 * p)`, compared with
 * a 31-bit random number) and iptables-save prints `%.11f` of `u32 / 0x80000000`. So
 * "0.3333333333" is read back as "0.33333333349".
 *
 * Go's `%0.10f` and glibc's `%.11f` both round the exact binary value half-to-even; both are
 * reproduced here with BigInt arithmetic (JS `toFixed` differs on exact ties such as 1/2048).
 *
 * Pure, no I/O.
 */

const TWO_POW_31 = 0x80000000;

/** Exact rational value of a finite non-negative double: num / 2^shift. */
function doubleToRational(x: number): { num: bigint; shift: bigint } {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`expected a finite non-negative number, got ${x}`);
  if (x === 0) return { num: 0n, shift: 0n };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exponentBits = (hi >>> 20) & 0x7ff;
  const mantissaHi = BigInt(hi & 0xfffff);
  let mantissa = (mantissaHi << 32n) | BigInt(lo);
  let exp: number;
  if (exponentBits === 0) {
    exp = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exp = exponentBits - 1075;
  }
  return exp >= 0 ? { num: mantissa << BigInt(exp), shift: 0n } : { num: mantissa, shift: BigInt(-exp) };
}

/** Fixed-point formatting of num/den (non-negative) with `digits` decimals, rounding half to even. */
function formatRationalFixed(num: bigint, den: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const scaled = num * scale;
  let q = scaled / den;
  const r = scaled % den;
  const twice = r * 2n;
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  const s = q.toString().padStart(digits + 1, '0');
  if (digits === 0) return s;
  return `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
}

/** C/Go `%.<digits>f` of a non-negative double (exact value, round half to even). */
export function formatFixed(x: number, digits: number): string {
  const { num, shift } = doubleToRational(x);
  return formatRationalFixed(num, 1n << shift, digits);
}

/** kube-proxy `computeProbability(n)`: `fmt.Sprintf("%0.10f", 1.0/float64(n))`. */
export function computeProbability(n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  return formatFixed(1 / n, 10);
}

/**
 * Probability string kube-proxy writes on the rule for endpoint `i` (0-based) of `n`, i.e.
 * computeProbability(n - i); `undefined` for the last endpoint (its rule is unconditional).
 */
export function endpointProbability(i: number, n: number): string | undefined {
  if (!Number.isInteger(i) || !Number.isInteger(n) || i < 0 || i >= n) {
    throw new RangeError(`endpoint index ${i} out of range for ${n} endpoints`);
  }
  return i < n - 1 ? computeProbability(n - i) : undefined;
}

/** The u32 the kernel stores for a `--probability` argument (libxt_statistic `lround(0x80000000 * p)`). */
export function probabilityToU32(probability: string | number): number {
  const p = typeof probability === 'number' ? probability : Number.parseFloat(probability);
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new RangeError(`probability out of range: ${probability}`);
  // lround: half away from zero; Math.round is half-up, identical for non-negative values.
  return Math.round(p * TWO_POW_31);
}

/** What iptables-save prints for a stored u32: `%.11f` of u32 / 0x80000000. */
export function u32ToReadBack(u32: number): string {
  return formatRationalFixed(BigInt(u32), BigInt(TWO_POW_31), 11);
}

/**
 * Predicts the `--probability` value iptables-save (legacy and nft variants) reads back for what
 * kube-proxy wrote: "0.3333333333" → "0.33333333349", "0.5000000000" → "0.50000000000".
 */
export function predictReadBack(written: string | number): string {
  return u32ToReadBack(probabilityToU32(written));
}

/** The read-back prediction for endpoint i of n (undefined for the last endpoint). */
export function endpointProbabilityReadBack(i: number, n: number): string | undefined {
  const p = endpointProbability(i, n);
  return p === undefined ? undefined : predictReadBack(p);
}

/**
 * Effective share of the traffic each endpoint receives given the quantised probabilities (a rule
 * matches with probability u32/2^31). Sums to 1; each ≈ 1/n.
 */
export function effectiveShares(n: number): number[] {
  const shares: number[] = [];
  let remaining = 1;
  for (let i = 0; i < n; i++) {
    const p = endpointProbability(i, n);
    const q = p === undefined ? 1 : probabilityToU32(p) / TWO_POW_31;
    shares.push(remaining * q);
    remaining *= 1 - q;
  }
  return shares;
}
