// expect.serverSees: the source address of the request as captured entering the pod that answered.
import { describePacket } from '../evidence/tcpdump.ts';
import type { CheckKind } from './types.ts';
import { resolveAddress } from '../topology/refs.ts';

export const serverSees: CheckKind = {
  fields: ['serverSees'],
  judge(c, t) {
    const s = c.spec.probe.expect.serverSees;
    if (!s) return [];
    const want = resolveAddress(s.src, c.topo).ip;
    const at = c.answeredBy ? t.request.filter((p) => p.object === c.answeredBy && p.dir === 'In') : [];
    return [{ name: `server ${c.answeredBy ?? '?'} sees source`, expected: want, observed: at[0]?.src ?? '(request not captured at the server)', passed: at[0]?.src === want, evidence: at.slice(0, 3).map(describePacket) }];
  },
};
