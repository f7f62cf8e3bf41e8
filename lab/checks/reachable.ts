// expect.reachable: did the probe get an answer (single: any attempt; bulk: every connection)?
import type { CheckKind } from './types.ts';

export const reachable: CheckKind = {
  fields: ['reachable'],
  judge(c, t) {
    const want = c.spec.probe.expect.reachable;
    if (want === undefined) return [];
    return [{ name: 'reachable', expected: want ? 'yes' : 'no', observed: t.reachable ? 'yes' : 'no', passed: t.reachable === want, evidence: t.attemptLines }];
  },
  judgeBulk(c, b) {
    const want = c.spec.probe.expect.reachable;
    if (want === undefined) return [];
    return [{ name: 'reachable', expected: want ? 'yes' : 'no', observed: `${b.answered}/${b.total} connections answered`, passed: (b.answered === b.total && b.total > 0) === want, evidence: [] }];
  },
};
