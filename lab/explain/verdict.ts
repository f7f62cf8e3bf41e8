// One verdict per probe, from evidence only: delivered at X (the socket got an answer, and the
// request was captured arriving at the server), dropped at Y by Z (where the packet was last
// captured and the counter or table entry that accounts for it: a DROP/REJECT rule whose counter
// this probe moved — a security group's default deny, the SLB's hairpin rule — an IPVS virtual
// server without real server, an eBPF frontend without backend, no route in the namespace's
// dumped tables), or unknown with the reason.
import type { Topology } from '../model.ts';
import type { Hop, ProbeResult } from '../checks/analyze.ts';
import { requestName } from '../checks/observe.ts';
import { cidrContains } from '../net.ts';
import { parseIpRouteText } from '../evidence/ip-route.ts';
import { describePacket, type Packet } from '../evidence/tcpdump.ts';
import { dumpOf, ebpfFrontend, ipvsTable, movedRules, quoteRule, type ProbeEvidence } from './evidence.ts';

export type Verdict =
  | { kind: 'delivered'; object: string; at: string; summary: string }
  | { kind: 'dropped'; packet: 'request' | 'reply'; object: string; at: string; by: string; evidence: string[]; summary: string }
  | { kind: 'unknown'; why: string; summary: string };

/** What in OBJECT accounts for a packet to DST that went no further, or undefined. */
function dropperIn(pe: ProbeEvidence, object: string, dst: string, port: number | undefined): { by: string; evidence: string[] } | undefined {
  const moved = movedRules(pe, object);
  const drops = (moved ?? []).filter((r) => r.target === 'DROP' || r.target === 'REJECT');
  if (drops.length) {
    const named = [...new Set(drops.map((r) => (r.comment ? `"${r.comment}"` : `${r.table} ${r.chain} rule ${r.pos}`)))];
    // The jump that led there (a vSwitch port's FORWARD rule names the ENI behind the port).
    const jump = (moved ?? []).find((r) => r.chain === 'FORWARD' && r.target === drops[0]!.chain);
    const port = jump && /\s-[io] (\S+)/.exec(jump.text)?.[1];
    const where = port ? ` at port ${port}${jump.comment ? ` (${jump.comment})` : ''}` : '';
    return {
      by: `${drops[0]!.target} rule ${named.join(', ')} in ${object}${where} (counter +${drops.reduce((n, r) => n + r.delta, 0)})`,
      evidence: [...(jump ? [jump] : []), ...drops].map((r) => `${object}: ${quoteRule(r)}`),
    };
  }
  const vs = ipvsTable(pe, object)?.find((s) => s.vip === dst && (port === undefined || s.port === port));
  if (vs && vs.backends.length === 0) {
    return { by: `IPVS virtual server ${vs.vip}:${vs.port} in ${object} has no real server`, evidence: [`${object}: ${vs.raw}`] };
  }
  const routes = dumpOf(pe, 'route', object);
  if (routes !== undefined && !localTo(pe, object, dst)) {
    const covering = parseIpRouteText(routes).filter((r) => r.type !== 'local' && r.type !== 'broadcast' && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(r.prefix) && cidrContains(r.prefix, dst));
    const best = covering.sort((a, b) => Number(b.prefix.split('/')[1]) - Number(a.prefix.split('/')[1]))[0];
    if (!best) return { by: `no route: no table of ${object} has a route to ${dst}`, evidence: [`${object}: ip route show table all — ${parseIpRouteText(routes).filter((r) => r.type === 'unicast').map((r) => r.prefix).join(', ') || 'no unicast route'}`] };
    if (['blackhole', 'unreachable', 'prohibit'].includes(best.type)) return { by: `${best.type} route ${best.prefix} in ${object}`, evidence: [`${object}: ${best.raw}`] };
  }
  return undefined;
}

/** DST is one of OBJECT's own addresses (a `local` route in its dumped tables). */
function localTo(pe: ProbeEvidence, object: string, dst: string): boolean {
  const routes = dumpOf(pe, 'route', object) ?? '';
  return parseIpRouteText(routes).some((r) => r.type === 'local' && r.prefix === `${dst}/32`);
}

/** The TCP reset the server sent back to this probe's request (captured leaving the server's
 *  namespace during the traced attempt): the kernel's answer when no socket listens on the port
 *  (RFC 9293 §3.10.7.1, https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.1). */
function resetFrom(pe: ProbeEvidence, r: ProbeResult, req: Hop): Packet | undefined {
  const a = r.attempts.at(-1);
  if (!a) return undefined;
  return pe.ev.packets.find((p) => p.ts >= a.t0 && p.ts <= a.t1 + 0.5 && p.object === req.object && p.dir === 'Out' && p.flags.startsWith('R') && p.src === req.dst && p.dst === req.src);
}

function lastHop(hops: Hop[]): Hop | undefined {
  return hops.at(-1);
}

export function verdictOf(topo: Topology, pe: ProbeEvidence, r: ProbeResult): Verdict {
  const spec = pe.spec;
  if (r.bulk) {
    return r.reachable
      ? { kind: 'delivered', object: Object.keys(r.bulk.perBackend).join(', '), at: '(many connections)', summary: `delivered: ${r.bulk.answered}/${r.bulk.total} connections answered (${Object.entries(r.bulk.perBackend).map(([k, v]) => `${k} ${v}`).join(', ')})` }
      : { kind: 'unknown', why: `none of ${r.bulk.total} connections was answered; bulk probes are not traced packet by packet`, summary: 'unknown: bulk connections unanswered, not traced' };
  }
  const req = lastHop(r.path);
  if (r.reachable) {
    const who = r.answeredBy ?? '(an unnamed server)';
    const at = [...r.path].reverse().find((h) => h.object === r.answeredBy && h.dir === 'In');
    return { kind: 'delivered', object: who, at: at?.label ?? '(arrival not captured)', summary: `delivered at ${at?.label ?? who}${at ? '' : ' (its arrival was not captured)'}: answered by ${who}` };
  }
  // Unreachable. Did the request arrive at a server (its reply then went missing)?
  const server = req && topo.cluster.pods.find((p) => p.name === req.object && p.ip === req.dst && req.dir === 'In');
  const reset = server && resetFrom(pe, r, req);
  if (reset) {
    const by = `a TCP reset from ${req.object}: nothing listens on ${req.dst}:${reset.sport}`;
    return { kind: 'dropped', packet: 'request', object: req.object, at: req.label, by, evidence: [describePacket(reset)], summary: `request refused at ${req.label}: ${by}` };
  }
  const packet: 'request' | 'reply' = server && r.replyPath.length ? 'reply' : 'request';
  const hops = packet === 'reply' ? r.replyPath : r.path;
  const last = lastHop(hops);
  if (!last) {
    const node = topo.cluster.pods.find((p) => p.name === spec.from)?.node;
    const fe = ebpfFrontend(pe, [...(node ? [node] : []), spec.from], spec.dstIp, spec.dstPort);
    if (fe && fe.backends.length === 0) {
      return { kind: 'dropped', packet, object: spec.from, at: `${spec.from} (tc egress)`, by: `eBPF frontend ${spec.dstIp}:${spec.dstPort} without backend`, evidence: [], summary: `dropped at ${spec.from}'s tc egress by the eBPF frontend ${spec.dstIp}:${spec.dstPort}, which has no backend` };
    }
    const what = requestName(spec);
    return { kind: 'unknown', why: `no ${what} of this probe was captured leaving ${spec.from}`, summary: `unknown: the request was captured nowhere (no ${what} left ${spec.from})` };
  }
  const port = last.dst === spec.dstIp ? spec.dstPort : undefined;
  // A packet last seen leaving an interface went missing on the wire or at the peer's first hook.
  const peer = pe.plan.interfaces.find((i) => i.object === last.object && i.name === last.ifname)?.peer;
  const candidates = last.dir === 'Out' && peer ? [last.object, peer.object] : [last.object];
  for (const o of candidates) {
    const d = dropperIn(pe, o, last.dst, port);
    if (d) {
      const at = o === last.object ? last.label : `${peer!.object}:${peer!.name}`;
      return { kind: 'dropped', packet, object: o, at, ...d, summary: `${packet} dropped at ${at} by ${d.by}` };
    }
  }
  const dumped = candidates.some((o) => movedRules(pe, o) !== undefined);
  const why = `the ${packet} was last captured at ${last.label} (${last.dir} ${last.src} → ${last.dst}); ${dumped ? 'no DROP or REJECT counter moved there and no table of it explains the loss' : `no iptables dump of ${candidates.join(' or ')} was taken after this probe`}`;
  return { kind: 'unknown', why, summary: `not delivered; dropper unknown: ${why}` };
}
