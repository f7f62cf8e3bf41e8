// expect.stacks: how many node and pod IP stacks the request went through (lab/checks/walk.ts
// stackObjects says which count).
import type { CheckKind } from './types.ts';

export const stacks: CheckKind = {
  fields: ['stacks'],
  judge(c, t) {
    const want = c.spec.probe.expect.stacks;
    if (want === undefined) return [];
    return [{ name: 'stacks crossed (nodes and pods)', expected: String(want), observed: `${t.stacks.size} (${[...t.stacks].join(', ')})`, passed: t.stacks.size === want, evidence: t.pathEvidence }];
  },
};
