// expect.seen / expect.notSeen: the probe's request (or reply) was / was not captured at an
// interface, optionally with given source and destination addresses (after any NAT on the way).
import { describePacket } from '../evidence/tcpdump.ts';
import type { CaptureExpect } from '../model.ts';
import type { Check, CheckKind, ProbeContext, RefUse, Traffic } from './types.ts';
import { matchesRef } from './walk.ts';
import { resolveAddress } from '../topology/refs.ts';

function captureCheck(c: ProbeContext, t: Traffic, ce: CaptureExpect, want: boolean): Check {
  const isReply = ce.packet === 'reply';
  const pool = isReply ? t.reply : t.request;
  const at = pool.filter((p) => matchesRef(c.plan, ce.at, p));
  const src = ce.src ? resolveAddress(ce.src, c.topo).ip : undefined;
  const dst = ce.dst ? resolveAddress(ce.dst, c.topo).ip : undefined;
  const hits = at.filter((p) => (!src || p.src === src) && (!dst || p.dst === dst));
  const what = `${isReply ? 'reply' : 'request'}${src || dst ? ` ${src ?? '*'} > ${dst ?? '*'}` : ''} at ${ce.at}`;
  return {
    name: `${want ? 'seen' : 'not seen'}: ${what}`,
    expected: want ? 'captured' : 'not captured',
    observed: hits.length ? `captured ${hits.length}×` : at.length ? `captured only as ${[...new Set(at.map((p) => `${p.src} > ${p.dst}`))].join(', ')}` : 'not captured',
    passed: want ? hits.length > 0 : hits.length === 0,
    evidence: (hits.length ? hits : at).slice(0, 6).map(describePacket),
  };
}

export const capture: CheckKind = {
  fields: ['seen', 'notSeen'],
  references: (e) => (['seen', 'notSeen'] as const).flatMap((k) => e[k].flatMap((ce, m): RefUse[] => [
    { path: ['expect', k, m], kind: 'iface', ref: ce.at },
    ...[ce.src, ce.dst].filter((a): a is string => !!a).map((a) => ({ path: ['expect', k, m], kind: 'address' as const, ref: a })),
  ])),
  judge: (c, t) => [
    ...c.spec.probe.expect.seen.map((ce) => captureCheck(c, t, ce, true)),
    ...c.spec.probe.expect.notSeen.map((ce) => captureCheck(c, t, ce, false)),
  ],
};
