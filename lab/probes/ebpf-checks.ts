// Checks for the tc eBPF service load balancer (serviceProxy ebpf) and for the TCP checksums of
// captured packets. Both read only what the kernel produced: the maps as bpftool dumped them
// after the probes, and the checksum fields of the captured packets.
import type { EbpfLbExpect, Topology } from '../model.ts';
import type { Plan } from '../plan.ts';
import { formatLbList, dumpToTable, parseLbMapsDump, type LbMapsDump } from '../services/ebpf/maps.ts';
import { resolveAddress } from '../topology/load.ts';
import type { Check, Evidence } from './analyze.ts';
import { describePacket, type Packet } from './capture.ts';

// ---- eBPF service table ---------------------------------------------------------------------
/** The maps the agent's `bpf` dump writes, one `# <map name>` line before each JSON dump. */
export const BPF_DUMP_MAPS = ['lb4_services_v2', 'lb4_backends', 'lb4_reverse_nat'] as const;

/** Parses the agent's `bpf` dump (three `bpftool -j map dump` outputs) into the decoded maps. */
export function parseBpfDump(text: string): LbMapsDump {
  const sections = new Map<string, string>();
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    const h = /^# (\S+)$/.exec(line);
    if (h) {
      cur = h[1]!;
      sections.set(cur, '');
    } else if (cur) sections.set(cur, sections.get(cur)! + line + '\n');
  }
  const need = (m: string) => {
    const s = sections.get(m);
    if (s === undefined) throw new Error(`no dump of ${m}`);
    return s;
  };
  return parseLbMapsDump({ services: need('lb4_services_v2'), backends: need('lb4_backends'), revNat: need('lb4_reverse_nat') });
}

/** The `lab lb list` lines of one frontend (with the header), from formatLbList's output. */
export function lbListLinesFor(list: string, vip: string, port: number): string[] {
  const lines = list.replace(/ +$/gm, '').split('\n').filter((l) => l !== '');
  const out = [lines[0]!];
  const i = lines.findIndex((l) => l.startsWith(`${vip}:${port} `) || l === `${vip}:${port}`);
  if (i < 0) return out;
  out.push(lines[i]!);
  for (let j = i + 1; j < lines.length && /^\s/.test(lines[j]!); j++) out.push(lines[j]!);
  return out;
}

function dumpFor(ev: Evidence, plan: Plan, probeId: string, kind: string, object: string): string | undefined {
  const ns = plan.namespaces.find((n) => n.object === object)?.ns;
  if (!ns) return undefined;
  return ev.dumps.get(`${probeId}.${kind}.${ns}.txt`) ?? ev.dumps.get(`final.${kind}.${ns}.txt`);
}

export function ebpfLbCheck(topo: Topology, plan: Plan, ev: Evidence, probeId: string, x: EbpfLbExpect): Check {
  const r = resolveAddress(x.service, topo);
  const port = r.port ?? 0;
  const name = `eBPF table on ${x.node}: ${x.service} (${r.ip}:${port})`;
  const want = [...x.backends].sort();
  const expected = want.length ? `backends ${want.join(', ')}` : 'frontend without backends';
  const text = dumpFor(ev, plan, probeId, 'bpf', x.node);
  if (text === undefined) return { name, expected, observed: `no dump of ${x.node}'s eBPF maps`, passed: false, evidence: [] };
  let dump: LbMapsDump;
  try {
    dump = parseBpfDump(text);
  } catch (e) {
    return { name, expected, observed: `unreadable dump: ${(e as Error).message}`, passed: false, evidence: text.split('\n').slice(0, 8) };
  }
  const podByIp = new Map(topo.cluster.pods.map((p) => [p.ip, p.name]));
  const svc = dumpToTable(dump).table.find((s) => s.vip === r.ip && s.port === port);
  const list = formatLbList(dump);
  if (!svc) return { name, expected, observed: 'no such frontend in the maps', passed: false, evidence: list.replace(/ +$/gm, '').split('\n').filter(Boolean).slice(0, 10) };
  const got = svc.backends.map((b) => podByIp.get(b.ip) ?? `${b.ip}:${b.port}`).sort();
  const targetOk = svc.backends.every((b) => {
    const pod = topo.cluster.pods.find((p) => p.ip === b.ip);
    return !!pod && pod.listen.includes(b.port);
  });
  return {
    name,
    expected,
    observed: got.length ? `backends ${got.join(', ')} (${svc.backends.map((b) => `${b.ip}:${b.port}`).join(', ')})` : 'frontend without backends',
    passed: got.join(',') === want.join(',') && targetOk,
    evidence: lbListLinesFor(list, r.ip, port),
  };
}

// ---- TCP checksums -------------------------------------------------------------------------
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
