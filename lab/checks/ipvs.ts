// expect.ipvs: a node's IPVS virtual server for a service and its real servers (ipvsadm -Ln),
// right after the probe.
import { parseIpvsadm } from '../evidence/ipvsadm.ts';
import { probeDump } from '../evidence/read.ts';
import type { IpvsExpect } from '../model.ts';
import type { Check, CheckKind, ProbeContext, RefUse } from './types.ts';
import { resolveAddress } from '../topology/refs.ts';

function ipvsCheck(c: ProbeContext, v: IpvsExpect): Check {
  const text = probeDump(c.ev, c.plan, c.spec.id, 'ipvs', v.node) ?? '';
  const podByIp = new Map(c.topo.cluster.pods.map((p) => [p.ip, p.name]));
  const r = resolveAddress(v.service, c.topo);
  const svc = parseIpvsadm(text).find((s) => s.vip === r.ip && s.port === r.port);
  const got = svc ? svc.backends.map((bk) => podByIp.get(bk.ip) ?? bk.ip).sort() : [];
  const want = [...v.backends].sort();
  return {
    name: `IPVS on ${v.node}: ${v.service} (${r.ip}:${r.port})`,
    expected: want.length ? `real servers ${want.join(', ')}` : 'virtual server with no real server',
    observed: svc ? (got.length ? `real servers ${got.join(', ')}` : 'virtual server with no real server') : 'no virtual server',
    passed: !!svc && got.join(',') === want.join(','),
    evidence: svc ? svc.raw.split('\n') : text.split('\n').slice(0, 8),
  };
}

export const ipvs: CheckKind = {
  fields: ['ipvs'],
  references: (e) => e.ipvs.flatMap((v, m): RefUse[] => [
    { path: ['expect', 'ipvs', m, 'node'], kind: 'node', ref: v.node },
    { path: ['expect', 'ipvs', m, 'service'], kind: 'address', ref: v.service },
    ...v.backends.map((b, q) => ({ path: ['expect', 'ipvs', m, 'backends', q], kind: 'pod' as const, ref: b })),
  ]),
  dumps: (p) => p.expect.ipvs.map((v) => ({ kind: 'ipvs', object: v.node })),
  judge: (c) => c.spec.probe.expect.ipvs.map((v) => ipvsCheck(c, v)),
};
