// What a probe did, read from the evidence before anything is judged: its attempts and which
// one to trace, the packets of its time window, the request and reply of that attempt wherever
// they were captured, and the hops they made (or, for a bulk probe, who answered how often).
import { sourcePort, type ProbeSpec } from '../contract.ts';
import type { Evidence } from '../evidence/read.ts';
import { isSyn, isSynAck } from '../evidence/tcpdump.ts';
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

/** A single-connection probe's traffic: the chosen attempt's request and reply, hop by hop. */
export function observeTraffic(plan: Plan, ev: Evidence, spec: ProbeSpec): Traffic {
  const attempts = attemptsOf(ev, spec);
  const ok = attempts.filter((a) => a.rc === 0 && a.reply.trim() !== '');
  const chosen = (spec.want === '-' ? ok[0] : ok.find((a) => a.reply.includes(spec.want))) ?? ok.at(-1) ?? attempts.at(-1);
  const attemptLines = attempts.map((a) => `attempt ${a.n} from port ${a.sport}: ${a.rc === 0 ? (a.reply.trim() ? `answer "${a.reply.trim().slice(-60)}"` : 'connected, no answer') : `failed (status ${a.rc})`}`);

  // The request of the chosen attempt: its SYN leaving the client namespace.
  const [w0, w1] = probeWindow(ev, spec);
  const window = ev.packets.filter((p) => p.ts >= w0 && p.ts < w1);
  const first = chosen && window.find((p) => p.object === spec.from && p.dir === 'Out' && isSyn(p) && p.sport === chosen.sport);
  const isn = first?.seq;
  const request = isn === undefined ? [] : window.filter((p) => isSyn(p) && p.seq === isn && p.ts <= first!.ts + 0.9);
  const reply = isn === undefined ? [] : window.filter((p) => isSynAck(p) && p.ack === (isn + 1) % 2 ** 32);
  const path = first ? toHops(plan, walk(plan, request, first)) : [];
  const replyPath = first && reply[0] ? toHops(plan, walk(plan, reply, reply[0])) : [];
  // The client's own namespace counts when it is part of the cluster (a pod or a node).
  const stacks = stackObjects(plan, path);
  const pathEvidence = path.map((h) => `${h.label} ${h.dir} ${h.src} > ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''}`);
  if (!first && chosen) pathEvidence.push(`no SYN from ${spec.from} with source port ${chosen.sport} was captured`);
  return { attempts, attemptLines, chosen, window, request, reply, path, replyPath, stacks, pathEvidence, reachable: ok.length > 0 };
}
