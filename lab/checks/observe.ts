// What a probe did, read from the evidence before anything is judged: its attempts and which
// one to trace, the packets of its time window, the request and reply of that attempt wherever
// they were captured, and the hops they made (or, for a bulk probe, who answered how often).
import { sourcePort, type ProbeSpec } from '../contract.ts';
import type { Evidence } from '../evidence/read.ts';
import { isSyn, isSynAck, type Packet } from '../evidence/tcpdump.ts';
import type { Plan } from '../plan.ts';
import type { Attempt, BulkCount, Traffic } from './types.ts';
import { stackObjects, toHops, walk } from './walk.ts';

function attemptsOf(ev: Evidence, spec: ProbeSpec): Attempt[] {
  return ev.probesOut.split('\n').map((l) => l.split('\t')).filter((f) => f[0] === spec.id && f[1] !== 'bulk').map((f) => ({
    n: Number(f[1]), t0: Number(f[2]), t1: Number(f[3]), rc: Number(f[4]), reply: f[5] ?? '', sport: sourcePort(spec.index, Number(f[1])),
  }));
}

/**
 * The capture window of a probe: from its start to half a second after its end (late FIN/ACKs),
 * but never into the next probe's window, so that probes need no pause between them.
 */
function probeWindow(ev: Evidence, spec: ProbeSpec): [number, number] {
  let a = 0;
  let z = Number.MAX_SAFE_INTEGER;
  let next = Number.MAX_SAFE_INTEGER;
  for (const line of ev.events.split('\n')) {
    const f = line.split('\t');
    if (f[1] === 'probe-start' && f[2] === spec.id) a = Number(f[0]);
    else if (f[1] === 'probe-start' && a && z !== Number.MAX_SAFE_INTEGER && next === Number.MAX_SAFE_INTEGER) next = Number(f[0]);
    if (f[1] === 'probe-end' && f[2] === spec.id) z = Number(f[0]);
  }
  return [a, Math.min(z + 0.5, next)];
}

/** A bulk probe's connections (one line per connection: index, status, answer). */
export function countBulk(ev: Evidence, spec: ProbeSpec): BulkCount {
  const text = ev.bulk.get(`bulk-${spec.id}.tsv`) ?? '';
  const perBackend: Record<string, number> = {};
  let answered = 0;
  let total = 0;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length < 2) continue;
    total++;
    const who = /pod=([a-z0-9-]+)/.exec(f[2] ?? '')?.[1];
    if (f[1] === '0' && who) {
      answered++;
      perBackend[who] = (perBackend[who] ?? 0) + 1;
    }
  }
  return { total, answered, perBackend };
}

interface Exchange {
  first?: Packet; // the request leaving the client
  request: Packet[]; // the request wherever it was captured
  reply: Packet[]; // the reply wherever it was captured
}

/**
 * The request and reply of one attempt, wherever they were captured, told apart from other
 * packets by what NAT keeps: TCP's SYN by its sequence number and the SYN-ACK by its ack of
 * it; SCTP's INIT by its initiate tag and the INIT ACK by carrying that tag as its verification
 * tag (RFC 9260 section 5.1); a UDP datagram, which has neither, by its IPv4 identification and
 * length (NAT rewrites addresses and ports, not those), the reply being the datagram that came
 * back to the client's port.
 */
function exchange(window: Packet[], spec: ProbeSpec, sport: number): Exchange {
  const proto = spec.protocol === 'tcp' ? undefined : spec.protocol;
  const leaving = (p: Packet) => p.object === spec.from && p.dir === 'Out' && p.proto === proto && p.sport === sport;
  if (proto === 'udp') {
    const first = window.find(leaving);
    if (!first) return { request: [], reply: [] };
    const same = (a: Packet) => (p: Packet) => p.proto === 'udp' && p.ipId === a.ipId && p.ipLen === a.ipLen;
    const request = window.filter((p) => same(first)(p) && p.ts >= first.ts && p.ts <= first.ts + 0.9);
    const answer = window.find((p) => p.object === spec.from && p.dir === 'In' && p.proto === 'udp' && p.dport === sport && p.ts >= first.ts);
    const reply = answer ? window.filter((p) => same(answer)(p) && p.ts >= first.ts && p.ts <= answer.ts) : [];
    return { first, request, reply };
  }
  const opens = (p: Packet) => (proto === 'sctp' ? p.proto === 'sctp' && p.flags === 'INIT' : isSyn(p));
  const first = window.find((p) => leaving(p) && opens(p));
  const tag = first?.seq;
  if (tag === undefined) return { first, request: [], reply: [] };
  const request = window.filter((p) => opens(p) && p.seq === tag && p.ts <= first!.ts + 0.9);
  const reply = proto === 'sctp'
    ? window.filter((p) => p.proto === 'sctp' && p.flags === 'INIT ACK' && p.ack === tag)
    : window.filter((p) => isSynAck(p) && p.ack === (tag + 1) % 2 ** 32);
  return { first, request, reply };
}

/** The name of a probe's opening packet, for what the evidence lacks. */
export function requestName(spec: ProbeSpec): string {
  return spec.protocol === 'udp' ? 'UDP datagram' : spec.protocol === 'sctp' ? 'SCTP INIT' : 'SYN';
}

/** A single-connection probe's traffic: the chosen attempt's request and reply, hop by hop. */
export function observeTraffic(plan: Plan, ev: Evidence, spec: ProbeSpec): Traffic {
  const attempts = attemptsOf(ev, spec);
  const ok = attempts.filter((a) => a.rc === 0 && a.reply.trim() !== '');
  const chosen = (spec.want === '-' ? ok[0] : ok.find((a) => a.reply.includes(spec.want))) ?? ok.at(-1) ?? attempts.at(-1);
  const attemptLines = attempts.map((a) => `attempt ${a.n} from port ${a.sport}: ${a.rc === 0 ? (a.reply.trim() ? `answer "${a.reply.trim().slice(-60)}"` : 'connected, no answer') : `failed (status ${a.rc})`}`);

  // The request of the chosen attempt: its SYN (INIT, datagram) leaving the client namespace.
  const [w0, w1] = probeWindow(ev, spec);
  const window = ev.packets.filter((p) => p.ts >= w0 && p.ts < w1);
  const { first, request, reply } = chosen ? exchange(window, spec, chosen.sport) : { first: undefined, request: [], reply: [] };
  const path = first && request.length ? toHops(plan, walk(plan, request, first)) : [];
  const replyPath = first && reply[0] ? toHops(plan, walk(plan, reply, reply[0])) : [];
  // The client's own namespace counts when it is part of the cluster (a pod or a node).
  const stacks = stackObjects(plan, path);
  const pathEvidence = path.map((h) => `${h.label} ${h.dir} ${h.src} > ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''}`);
  if (!first && chosen) pathEvidence.push(`no ${requestName(spec)} from ${spec.from} with source port ${chosen.sport} was captured`);
  return { attempts, attemptLines, chosen, window, request, reply, path, replyPath, stacks, pathEvidence, reachable: ok.length > 0 };
}
