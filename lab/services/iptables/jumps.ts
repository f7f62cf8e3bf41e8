// The jumps from the built-in chains into kube-proxy's (PREROUTING → KUBE-SERVICES, …), which
// kube-proxy and kubelet add with `iptables -I <chain> 1` (EnsureRule Prepend) outside the restore:
// `iptablesJumpChains` in https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/iptables/proxier.go
// and kubelet's in pkg/kubelet/kubelet_network_linux.go. Written into the payload per JumpMode.
import type { IptablesFlavor } from './types.ts';
import type { Options } from './model.ts';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  line,
  q,
  type Table,
} from './writers.ts';

interface JumpChain {
  table: Table;
  dst: string;
  src: string;
  comment: string;
  extra: readonly string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'] as const;

/** `iptablesJumpChains` of the ≥1.25 proxier (with KUBE-PROXY-FIREWALL). */
const JUMPS_EXT: readonly JumpChain[] = [
  { table: 'filter', dst: KUBE_EXTERNAL_SERVICES, src: 'INPUT', comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', dst: KUBE_EXTERNAL_SERVICES, src: 'FORWARD', comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', dst: KUBE_NODEPORTS, src: 'INPUT', comment: 'kubernetes health check service ports', extra: [] },
  { table: 'filter', dst: KUBE_SERVICES, src: 'FORWARD', comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', dst: KUBE_SERVICES, src: 'OUTPUT', comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', dst: KUBE_FORWARD, src: 'FORWARD', comment: 'kubernetes forwarding rules', extra: [] },
  { table: 'filter', dst: KUBE_PROXY_FIREWALL, src: 'INPUT', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', dst: KUBE_PROXY_FIREWALL, src: 'OUTPUT', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', dst: KUBE_PROXY_FIREWALL, src: 'FORWARD', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'nat', dst: KUBE_SERVICES, src: 'OUTPUT', comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', dst: KUBE_SERVICES, src: 'PREROUTING', comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', dst: KUBE_POSTROUTING, src: 'POSTROUTING', comment: 'kubernetes postrouting rules', extra: [] },
];

/** kube-proxy's duplicate of kubelet's jumps (`iptablesKubeletJumpChains`, ≥1.25). */
const KUBE_PROXY_KUBELET_JUMPS: readonly JumpChain[] = [
  { table: 'filter', dst: KUBE_FIREWALL, src: 'INPUT', comment: '', extra: [] },
  { table: 'filter', dst: KUBE_FIREWALL, src: 'OUTPUT', comment: '', extra: [] },
];

/** kubelet's own order (kubelet_network_linux.go: OUTPUT first, then INPUT, both Prepend). */
const KUBELET_JUMPS: readonly JumpChain[] = [
  { table: 'filter', dst: KUBE_FIREWALL, src: 'OUTPUT', comment: '', extra: [] },
  { table: 'filter', dst: KUBE_FIREWALL, src: 'INPUT', comment: '', extra: [] },
];

/** `iptablesJumpChains` of the 1.23 proxier. */
const JUMPS_XLB: readonly JumpChain[] = JUMPS_EXT.filter((j) => j.dst !== KUBE_PROXY_FIREWALL);

interface JumpLine {
  table: Table;
  src: string;
  args: string;
}

function jumpArgs(j: JumpChain): string {
  return line(j.extra, j.comment ? ['-m', 'comment', '--comment', q(j.comment)] : [], '-j', j.dst);
}

/** The sequence of EnsureRule(Prepend, …) calls on a fresh node, deduplicated as EnsureRule does. */
export function jumpSequence(flavor: IptablesFlavor, kubelet: boolean): JumpLine[] {
  const seq: JumpChain[] = [];
  if (kubelet) seq.push(...KUBELET_JUMPS);
  if (flavor === 'ext') seq.push(...JUMPS_EXT, ...KUBE_PROXY_KUBELET_JUMPS);
  else seq.push(...JUMPS_XLB);
  const seen = new Set<string>();
  const out: JumpLine[] = [];
  for (const j of seq) {
    const args = jumpArgs(j);
    const key = `${j.table}|${j.src}|${args}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ table: j.table, src: j.src, args });
  }
  return out;
}

/** The jump lines of one table in the chosen JumpMode. */
export function jumpLines(table: Table, o: Pick<Options, 'jumps' | 'flavor' | 'kubelet'>): string[] {
  if (o.jumps === 'none') return [];
  const seq = jumpSequence(o.flavor, o.kubelet).filter((j) => j.table === table);
  if (o.jumps === 'insert') return seq.map((j) => `-I ${j.src} 1 ${j.args}`);
  // 'append': final order after the prepends = reverse call order, per built-in chain.
  const byChain = new Map<string, string[]>();
  for (const j of seq) {
    const list = byChain.get(j.src) ?? [];
    list.unshift(j.args);
    byChain.set(j.src, list);
  }
  const out: string[] = [];
  for (const [src, list] of byChain) for (const args of list) out.push(`-A ${src} ${args}`);
  return out;
}
