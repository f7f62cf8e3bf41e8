// The dumps an explanation needs beyond what the scenario's own expectations ask for: after every
// probe, the iptables counters of every namespace that has rules (a drop or a NAT rewrite is named
// by the rule whose counter that probe moved); once after the probes, the IPVS tables, the tc
// eBPF service maps and — when a probe went unanswered, the only case the explanation reads them —
// the routing tables as built (they do not change per probe).
import type { ProbeSpec } from '../contract.ts';
import type { Cluster } from '../model.ts';
import type { Plan } from '../plan.ts';
import { tcFilters } from './tc.ts';

export function explainDumps(plan: Plan, probes: ProbeSpec[], cluster: Cluster): void {
  const withRules = [...new Set(plan.steps.filter((s) => s.tool === 'iptables' && s.object).map((s) => s.object!))];
  for (const p of probes) {
    if (p.mode === 'bulk') continue;
    for (const o of withRules) if (!p.dumps.some((d) => d.kind === 'iptables' && d.object === o)) p.dumps.push({ kind: 'iptables', object: o });
  }
  // Tables as built are taken once, right after the last traced probe (the plan's own final dumps
  // stay what its compilers declared).
  const last = probes.filter((p) => p.mode === 'single').at(-1);
  if (!last) return;
  const final = (kind: string, object: string, unanswered?: true) => {
    if (!plan.dumps.some((d) => d.kind === kind && d.object === object) && !last.dumps.some((d) => d.kind === kind && d.object === object)) last.dumps.push({ kind, object, ...(unanswered && { unanswered }) });
  };
  for (const o of new Set(plan.steps.filter((s) => s.tool === 'ipvs' && s.object).map((s) => s.object!))) final('ipvs', o);
  // Routing tables of the forwarding namespaces: a packet that stops in one of them with no
  // covering route was dropped for want of a route (explain/verdict.ts reads them for unanswered
  // probes only, so the agent takes them only once a probe went unanswered).
  for (const n of plan.namespaces) if (n.kind !== 'pod' && n.kind !== 'client') final('route', n.object, true);
  const ebpfPods = new Set(tcFilters(plan).filter((f) => f.kind === 'ebpf').map((f) => f.object));
  for (const node of new Set(cluster.pods.filter((p) => ebpfPods.has(p.name)).map((p) => p.node))) final('bpf', node);
}
