// From raw evidence (captures, probe results, table dumps) to checks: each expectation of the
// scenario file becomes a check with what was expected, what was observed, pass/fail and the
// evidence (packet lines, table lines) that decided it. Nothing here decides reachability or a
// path by itself: it reads what the kernel did, then asks every registered check kind to judge.
import type { Compiled, ProbeSpec } from '../contract.ts';
import { readEvidence, type Evidence } from '../evidence/read.ts';
import { describePacket } from '../evidence/tcpdump.ts';
import type { Topology } from '../model.ts';
import { countBulk, observeTraffic } from './observe.ts';
import { CHECK_KINDS } from './registry.ts';
import type { Attempt, Check, Hop, ProbeContext } from './types.ts';
import { ifaceLabel } from './walk.ts';

export type { Attempt, Check, Hop } from './types.ts';

export interface ProbeResult {
  id: string;
  name: string;
  from: string;
  to: string;
  target: string;
  reachable: boolean;
  answeredBy?: string;
  attempts: Attempt[];
  path: Hop[];
  replyPath: Hop[];
  /** Every packet captured during the probe, per interface (for reports; at most 200 each). */
  captures?: { iface: string; lines: string[] }[];
  stacks: number;
  checks: Check[];
  bulk?: { total: number; answered: number; perBackend: Record<string, number> };
}

function analyzeProbe(topo: Topology, compiled: Compiled, ev: Evidence, spec: ProbeSpec): ProbeResult {
  const { plan } = compiled;
  const checks: Check[] = [];
  const ctx: ProbeContext = { topo, plan, probes: compiled.probes, ev, spec };
  const result: ProbeResult = {
    id: spec.id, name: spec.probe.name, from: spec.from, to: spec.probe.to, target: `${spec.dstIp}:${spec.dstPort}`,
    reachable: false, attempts: [], path: [], replyPath: [], stacks: 0, checks,
  };

  if (spec.mode === 'bulk') {
    const bulk = countBulk(ev, spec);
    result.bulk = bulk;
    result.reachable = bulk.answered > 0;
    for (const k of CHECK_KINDS) checks.push(...(k.judgeBulk?.(ctx, bulk) ?? k.judgeState?.(ctx) ?? []));
    return result;
  }

  const t = observeTraffic(plan, ev, spec);
  result.attempts = t.attempts;
  result.reachable = t.reachable;
  result.answeredBy = t.chosen ? /pod=([a-z0-9-]+)/.exec(t.chosen.reply)?.[1] : undefined;
  ctx.answeredBy = result.answeredBy;
  const perIface = new Map<string, string[]>();
  for (const p of t.window) {
    const k = ifaceLabel(plan, p.object, p.ifname);
    const l = perIface.get(k) ?? [];
    if (l.length < 200) l.push(`${p.ts.toFixed(6)} ${describePacket(p)}${p.seq !== undefined ? ` seq ${p.seq}` : ''}${p.ack !== undefined ? ` ack ${p.ack}` : ''}`);
    perIface.set(k, l);
  }
  result.captures = [...perIface].map(([iface, lines]) => ({ iface, lines }));
  result.path = t.path;
  result.replyPath = t.replyPath;
  result.stacks = t.stacks.size;
  for (const k of CHECK_KINDS) checks.push(...(k.judge?.(ctx, t) ?? k.judgeState?.(ctx) ?? []));
  return result;
}

export function analyze(topo: Topology, compiled: Compiled, jobDir: string): ProbeResult[] {
  const ev = readEvidence(jobDir, compiled.plan);
  return compiled.probes.map((p) => analyzeProbe(topo, compiled, ev, p));
}
