// expect.distribution (bulk probes): each listed backend answered a share of the connections
// within [minPercent, maxPercent].
import type { CheckKind } from './types.ts';

export const distribution: CheckKind = {
  fields: ['distribution'],
  judgeBulk(c, b) {
    const d = c.spec.probe.expect.distribution;
    if (!d) return [];
    return d.backends.map((bk) => {
      const n = b.perBackend[bk] ?? 0;
      const pct = b.total ? (100 * n) / b.total : 0;
      return {
        name: `share of ${bk}`, expected: `${d.minPercent}–${d.maxPercent} %`, observed: `${pct.toFixed(1)} % (${n}/${b.total})`,
        passed: pct >= d.minPercent && pct <= d.maxPercent, evidence: Object.entries(b.perBackend).map(([k, v]) => `${k}: ${v}`),
      };
    });
  },
};
