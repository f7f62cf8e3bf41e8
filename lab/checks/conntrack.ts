// expect.conntrack: an entry (or none) in a node's connection-tracking table right after the
// probe, with the reply direction showing the NAT that was applied (conntrack -L -o extended).
import { parseConntrack } from '../evidence/conntrack.ts';
import { probeDump } from '../evidence/read.ts';
import type { ConntrackExpect } from '../model.ts';
import type { Check, CheckKind, ProbeContext, RefUse, Traffic } from './types.ts';
import { resolveAddress } from '../topology/refs.ts';

function conntrackCheck(c: ProbeContext, t: Traffic, ct: ConntrackExpect): Check {
  const addr = (ref: string) => resolveAddress(ref, c.topo).ip;
  const podByIp = new Map(c.topo.cluster.pods.map((p) => [p.ip, p.name]));
  const entries = parseConntrack(probeDump(c.ev, c.plan, c.spec.id, 'conntrack', ct.node) ?? '').filter((x) => x.proto === c.spec.protocol);
  const dst = addr(ct.orig.dst);
  const dport = ct.orig.dport ?? (ct.orig.dst.startsWith('svc/') || ct.orig.dst.startsWith('slb/') ? resolveAddress(ct.orig.dst, c.topo).port : undefined) ?? c.spec.dstPort;
  const src = ct.orig.src ? addr(ct.orig.src) : undefined;
  const cands = entries.filter((x) => x.orig.dst === dst && (!src || x.orig.src === src) && (x.orig.dport === dport || ct.orig.dport === undefined));
  const pick = cands.find((x) => x.orig.sport === t.chosen?.sport) ?? cands.at(-1);
  const name = `conntrack on ${ct.node}: ${ct.orig.src ?? '*'} → ${ct.orig.dst}`;
  if (ct.absent) {
    return { name, expected: 'no entry', observed: cands.length ? `${cands.length} entr${cands.length > 1 ? 'ies' : 'y'}` : 'no entry', passed: cands.length === 0, evidence: cands.slice(0, 4).map((x) => x.raw) };
  }
  const rs = ct.reply?.src ? addr(ct.reply.src) : undefined;
  const rd = ct.reply?.dst ? addr(ct.reply.dst) : undefined;
  const label = (ip: string) => (podByIp.get(ip) ? `${ip} (${podByIp.get(ip)})` : ip);
  return {
    name,
    expected: `entry${rs || rd ? `, reply ${rs ? label(rs) : '*'} → ${rd ? label(rd) : '*'}` : ''}`,
    observed: pick ? `entry ${pick.orig.src}:${pick.orig.sport} → ${pick.orig.dst}:${pick.orig.dport}, reply ${label(pick.reply.src)} → ${label(pick.reply.dst)}` : 'no entry',
    passed: !!pick && (!rs || pick.reply.src === rs) && (!rd || pick.reply.dst === rd),
    evidence: (pick ? [pick.raw] : []).concat(cands.filter((x) => x !== pick).slice(0, 2).map((x) => x.raw)),
  };
}

export const conntrack: CheckKind = {
  fields: ['conntrack'],
  references: (e) => e.conntrack.flatMap((ct, m): RefUse[] => [
    { path: ['expect', 'conntrack', m, 'node'], kind: 'node', ref: ct.node },
    ...[ct.orig.src, ct.orig.dst, ct.reply?.src, ct.reply?.dst].filter((a): a is string => !!a).map((a) => ({ path: ['expect', 'conntrack', m], kind: 'address' as const, ref: a })),
  ]),
  dumps: (p) => p.expect.conntrack.map((ct) => ({ kind: 'conntrack', object: ct.node })),
  judge: (c, t) => c.spec.probe.expect.conntrack.map((ct) => conntrackCheck(c, t, ct)),
};
