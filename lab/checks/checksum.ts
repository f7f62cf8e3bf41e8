// expect.checksums: the TCP checksums of the probe's request and reply as captured — full and
// valid, or CHECKSUM_PARTIAL matching the addresses the packet carries there; never bad.
// Read only from the checksum fields of the captured packets.
import { describePacket, type Packet } from '../evidence/tcpdump.ts';
import type { Check, CheckKind } from './types.ts';

export type CksumKind = 'full' | 'partial' | 'bad' | 'unknown';

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The folded one's-complement sum of the IPv4 TCP pseudo-header. */
export function pseudoHeaderSum(src: string, dst: string, tcpLength: number, proto = 6): number {
  const w = (ip: string) => ip.split('.').map(Number).reduce((acc, o, i) => acc + (i % 2 === 0 ? o << 8 : o), 0);
  return fold(w(src) + w(dst) + proto + tcpLength);
}

/**
 * What a receiver makes of a captured TCP checksum: `full` (it verifies), `partial`
 * (CHECKSUM_PARTIAL: the field holds the pseudo-header sum of the addresses the packet carries,
 * which the sending NIC — or nobody, between veths — completes), `bad` (neither: e.g. a NAT that
 * rewrote an address without updating the pseudo-header part), `unknown` (not printed).
 */
export function classifyChecksum(p: Packet): { kind: CksumKind; field?: number; pseudo?: number } {
  if (p.cksum === undefined || p.cksumOk === undefined) return { kind: 'unknown' };
  const field = p.cksum;
  if (p.cksumOk) return { kind: 'full', field };
  if (p.ipLen === undefined || p.ipHeaderLen === undefined) return { kind: 'unknown', field };
  const pseudo = pseudoHeaderSum(p.src, p.dst, p.ipLen - p.ipHeaderLen);
  return { kind: field === pseudo ? 'partial' : 'bad', field, pseudo };
}

/**
 * The checksums of the probe's request (SYN) and reply (SYN-ACK) on every interface that
 * captured them. Asserted where the packets are received — the server's In capture of the
 * request, the client's In capture of the reply — and nowhere may a capture be bad. Between
 * veths and ipvlan slaves a locally generated packet stays CHECKSUM_PARTIAL end to end, so
 * "partial" is what the receiving side shows too; a NIC would complete it from that field.
 */
export function checksumCheck(request: Packet[], reply: Packet[], client: string, server: string | undefined): Check {
  const all = [...request.map((p) => ({ p, what: 'request' })), ...reply.map((p) => ({ p, what: 'reply' }))];
  const rows = all.map(({ p, what }) => ({ p, what, c: classifyChecksum(p) }));
  const line = (r: (typeof rows)[number]) => `${r.what} ${describePacket(r.p)}: ${r.c.kind}${r.c.field !== undefined ? ` (field 0x${r.c.field.toString(16).padStart(4, '0')}${r.c.pseudo !== undefined ? `, pseudo-header sum 0x${r.c.pseudo.toString(16).padStart(4, '0')}` : ''})` : ''}`;
  const receiving = rows.filter((r) => (r.what === 'request' && r.p.object === server && r.p.dir === 'In') || (r.what === 'reply' && r.p.object === client && r.p.dir === 'In'));
  const count = (k: CksumKind) => rows.filter((r) => r.c.kind === k).length;
  const okAtReceiver = receiving.length >= 2 && receiving.every((r) => r.c.kind === 'full' || r.c.kind === 'partial');
  const sides = receiving.length ? receiving.map((r) => `${r.what} at ${r.p.object}:${r.p.ifname} ${r.c.kind}`).join(', ') : 'no capture at the receiving side';
  return {
    name: 'TCP checksums (request and reply as received, and every other capture of them)',
    expected: 'valid: full, or CHECKSUM_PARTIAL matching the captured addresses; none bad',
    observed: `${sides}; all ${rows.length} captures: ${count('full')} full, ${count('partial')} partial, ${count('bad')} bad${count('unknown') ? `, ${count('unknown')} not printed` : ''}`,
    passed: okAtReceiver && count('bad') === 0,
    evidence: [...receiving, ...rows.filter((r) => !receiving.includes(r))].slice(0, 8).map(line),
  };
}

export const checksums: CheckKind = {
  fields: ['checksums'],
  judge: (c, t) => (c.spec.probe.expect.checksums ? [checksumCheck(t.request, t.reply, c.spec.from, c.answeredBy)] : []),
};
