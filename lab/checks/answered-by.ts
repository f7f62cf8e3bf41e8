// expect.answeredBy (or the probe's `backend`): which pod's server answered the traced attempt.
import type { CheckKind } from './types.ts';

export const answeredBy: CheckKind = {
  fields: ['answeredBy'],
  judge(c, t) {
    const want = c.spec.probe.expect.answeredBy ?? c.spec.probe.backend;
    if (!want) return [];
    return [{ name: 'answered by', expected: want, observed: c.answeredBy ?? '(nobody)', passed: c.answeredBy === want, evidence: t.attemptLines }];
  },
};
