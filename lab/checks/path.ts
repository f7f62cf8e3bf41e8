// expect.path: the interfaces the request crossed, in order, as the capture walk found them
// (fabric runs collapsed to "vpc", a BGP router as "ROUTER:*").
import type { CheckKind } from './types.ts';
import { matchesRef, pathTokens } from './walk.ts';

export const path: CheckKind = {
  fields: ['path'],
  references: (e) => (e.path ?? []).map((h, m) => ({ path: ['expect', 'path', m], kind: 'iface', ref: h })),
  judge(c, t) {
    const exp = c.spec.probe.expect.path;
    if (!exp) return [];
    const obs = pathTokens(t.path);
    const same = obs.length === exp.length && exp.every((ref, i) => (ref === 'vpc' ? obs[i]!.token === 'vpc' : !!obs[i]!.hop && matchesRef(c.plan, ref, obs[i]!.hop!)));
    return [{ name: 'path', expected: exp.join(' → '), observed: obs.map((o) => (o.hop ? (o.token.endsWith(':*') ? o.token : o.hop.label) : 'vpc')).join(' → ') || '(no capture)', passed: same, evidence: t.pathEvidence }];
  },
};
