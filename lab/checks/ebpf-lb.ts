// expect.ebpfLb (serviceProxy ebpf): a node's service table as the tc eBPF load balancer's maps
// hold it, read back from the kernel (bpftool map dump) after the probes — the same rows
// `lab lb list` prints.
import { parseBpfDump } from '../evidence/bpftool.ts';
import { dumpText } from '../evidence/read.ts';
import type { EbpfLbExpect } from '../model.ts';
import { dumpToTable, formatLbList, type LbMapsDump } from '../services/ebpf/maps.ts';
import type { Check, CheckKind, ProbeContext, RefUse } from './types.ts';
import { resolveAddress } from '../topology/refs.ts';

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

function ebpfLbCheck(c: ProbeContext, x: EbpfLbExpect): Check {
  const { topo } = c;
  const r = resolveAddress(x.service, c.topo);
  const port = r.port ?? 0;
  const name = `eBPF table on ${x.node}: ${x.service} (${r.ip}:${port})`;
  const want = [...x.backends].sort();
  const expected = want.length ? `backends ${want.join(', ')}` : 'frontend without backends';
  const text = dumpText(c.ev, c.plan, c.spec.id, 'bpf', x.node);
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

export const ebpfLb: CheckKind = {
  fields: ['ebpfLb'],
  references: (e) => (e.ebpfLb ?? []).flatMap((v, m): RefUse[] => [
    { path: ['expect', 'ebpfLb', m, 'node'], kind: 'node', ref: v.node },
    { path: ['expect', 'ebpfLb', m, 'service'], kind: 'address', ref: v.service },
    ...v.backends.map((b, q) => ({ path: ['expect', 'ebpfLb', m, 'backends', q], kind: 'pod' as const, ref: b })),
  ]),
  // The maps are dumped once, after all probes.
  finalDumps: (p) => (p.expect.ebpfLb ?? []).map((x) => ({ kind: 'bpf', object: x.node })),
  judge: (c) => (c.spec.probe.expect.ebpfLb ?? []).map((x) => ebpfLbCheck(c, x)),
};
