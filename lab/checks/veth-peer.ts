// expect.vethPeer: two interfaces are the two ends of one veth, as the kernel reports it
// (ip -d link: each one's @ifN is the other's ifindex, link-netns the other's namespace).
import { parseIpLink } from '../evidence/ip-link.ts';
import { dumpText, nsOf } from '../evidence/read.ts';
import type { VethPeerExpect } from '../model.ts';
import type { Check, CheckKind, ProbeContext, RefUse } from './types.ts';
import { resolveIfaceRef } from './walk.ts';

function vethPeerCheck(c: ProbeContext, x: VethPeerExpect): Check {
  const { plan, ev } = c;
  const name = `veth pairing: ${x.at} ↔ ${x.peer}`;
  const side = (ref: string) => {
    const r = resolveIfaceRef(plan, ref)[0]!;
    const text = dumpText(ev, plan, c.spec.id, 'link', r.object) ?? '';
    return { ...r, ns: nsOf(plan, r.object), link: parseIpLink(text).find((l) => l.name === r.ifname) };
  };
  const a = side(x.at);
  const z = side(x.peer);
  const desc = (s: typeof a) => (s.link ? `${s.object}: ${s.link.name} is ifindex ${s.link.ifindex}, peer @if${s.link.peerIndex ?? '?'}${s.link.linkNetns ? ` in ${s.link.linkNetns}` : ''}` : `${s.object}: no interface ${s.ifname}`);
  const passed = !!a.link && !!z.link && a.link.peerIndex === z.link.ifindex && z.link.peerIndex === a.link.ifindex
    && (!a.link.linkNetns || a.link.linkNetns === z.ns) && (!z.link.linkNetns || z.link.linkNetns === a.ns);
  return {
    name,
    expected: `${x.at}'s peer is ${x.peer} (each one's @ifN is the other's ifindex)`,
    observed: `${desc(a)}; ${desc(z)}`,
    passed,
    evidence: [a.link?.raw, z.link?.raw].filter((s): s is string => !!s),
  };
}

export const vethPeer: CheckKind = {
  fields: ['vethPeer'],
  references: (e) => (e.vethPeer ?? []).flatMap((x, m): RefUse[] => (['at', 'peer'] as const).map((k) => ({ path: ['expect', 'vethPeer', m, k], kind: 'iface', ref: x[k] }))),
  dumps: (p) => (p.expect.vethPeer ?? []).flatMap((x) => [x.at, x.peer].map((ref) => ({ kind: 'link', object: ref.slice(0, ref.indexOf(':')) }))),
  judgeState: (c) => (c.spec.probe.expect.vethPeer ?? []).map((x) => vethPeerCheck(c, x)),
};
