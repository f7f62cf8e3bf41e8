// What one probe's evidence says about an object: the iptables rules whose counters this probe
// moved (its dump minus the previous probe's), the IPVS table and the tc eBPF service maps as
// dumped by the agent. Parsing is the checks' own (lab/evidence/*); this only picks and quotes.
import type { ProbeSpec } from '../contract.ts';
import type { Plan } from '../plan.ts';
import { parseBpfDump } from '../evidence/bpftool.ts';
import { parseIptablesSaveCounters, withDeltas, type RuleDelta } from '../evidence/iptables-save.ts';
import { parseIpvsadm, type IpvsService } from '../evidence/ipvsadm.ts';
import { dumpText, earlierDump, probeDump, type Evidence } from '../evidence/read.ts';
import { dumpToTable, type LbMapsDump } from '../services/ebpf/maps.ts';

export type MovedRule = RuleDelta;

export interface ProbeEvidence {
  ev: Evidence;
  plan: Plan;
  probes: ProbeSpec[];
  spec: ProbeSpec;
}

/**
 * The probe's own dump of KIND in OBJECT, else the one taken after all probes, else (for tables
 * as built, which no probe changes: IPVS, eBPF maps, routes) the one taken after another probe.
 */
export function dumpOf(pe: ProbeEvidence, kind: string, object: string): string | undefined {
  if (!pe.plan.namespaces.some((n) => n.object === object)) return undefined;
  const own = dumpText(pe.ev, pe.plan, pe.spec.id, kind, object);
  if (own !== undefined || !['ipvs', 'bpf', 'route'].includes(kind)) return own;
  for (const p of [...pe.probes].reverse()) {
    const t = probeDump(pe.ev, pe.plan, p.id, kind, object);
    if (t !== undefined) return t;
  }
  return undefined;
}

/**
 * The rules of OBJECT whose packet counters this probe moved, or undefined when no iptables dump
 * of OBJECT was taken after this probe. The baseline is the previous probe's dump; for the first
 * probe, the counters as the restore left them (zero).
 */
export function movedRules(pe: ProbeEvidence, object: string): MovedRule[] | undefined {
  if (!pe.plan.namespaces.some((n) => n.object === object)) return undefined;
  const after = probeDump(pe.ev, pe.plan, pe.spec.id, 'iptables', object);
  if (after === undefined) return undefined;
  const before = earlierDump(pe.ev, pe.plan, pe.probes, pe.spec, 'iptables', object);
  return withDeltas(parseIptablesSaveCounters(after), before === undefined ? undefined : parseIptablesSaveCounters(before)).filter((r) => r.delta > 0);
}

/** "-A CHAIN … (+n, table t)" as printed in explanations. */
export function quoteRule(r: MovedRule): string {
  return `${r.table} ${r.text} (+${r.delta} packet${r.delta > 1 ? 's' : ''} in this probe)`;
}

export function ipvsTable(pe: ProbeEvidence, object: string): IpvsService[] | undefined {
  const text = dumpOf(pe, 'ipvs', object);
  return text === undefined ? undefined : parseIpvsadm(text);
}

export interface EbpfFrontend {
  vip: string;
  port: number;
  revNatId: number;
  backends: { ip: string; port: number; id?: number }[];
  dumpedOn: string;
}

/** The service entry VIP:PORT of the eBPF maps dumped on OBJECT (or any node that dumped them). */
export function ebpfFrontend(pe: ProbeEvidence, objects: string[], vip: string, port: number): EbpfFrontend | undefined {
  for (const o of objects) {
    const text = dumpOf(pe, 'bpf', o);
    if (!text) continue;
    let dump: LbMapsDump;
    try {
      dump = parseBpfDump(text);
    } catch {
      continue;
    }
    const svc = dumpToTable(dump).table.find((s) => s.vip === vip && s.port === port);
    if (!svc) continue;
    const ids = new Map(dump.backends.map((b) => [`${b.address}:${b.port}`, b.id]));
    return {
      vip, port, revNatId: svc.revNatId, dumpedOn: o,
      backends: svc.backends.map((b) => ({ ip: b.ip, port: b.port, id: ids.get(`${b.ip}:${b.port}`) })),
    };
  }
  return undefined;
}
