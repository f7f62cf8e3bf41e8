// expect.addressNeverSeen: an address appears in no packet captured in the probe's window on any
// interface (e.g. a pod's address hidden behind SNAT).
import { describePacket } from '../evidence/tcpdump.ts';
import type { CheckKind } from './types.ts';
import { resolveAddress } from '../topology/refs.ts';

export const addressNeverSeen: CheckKind = {
  fields: ['addressNeverSeen'],
  references: (e) => e.addressNeverSeen.map((a, m) => ({ path: ['expect', 'addressNeverSeen', m], kind: 'address', ref: a })),
  judge: (c, t) => c.spec.probe.expect.addressNeverSeen.map((a) => {
    const ip = resolveAddress(a, c.topo).ip;
    const hits = t.window.filter((p) => p.src === ip || p.dst === ip);
    return {
      name: `address ${a} (${ip}) on no interface`, expected: 'never captured', observed: hits.length ? `captured ${hits.length}× on ${[...new Set(hits.map((p) => `${p.object}:${p.ifname}`))].join(', ')}` : `never captured (${t.window.length} packets in the probe's window)`,
      passed: hits.length === 0 && t.window.length > 0, evidence: hits.slice(0, 6).map(describePacket),
    };
  }),
};
