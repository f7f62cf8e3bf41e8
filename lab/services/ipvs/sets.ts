// The ipsets of kube-proxy's IPVS mode: names, types and comments as `ipsetInfo` and the constants of
// pkg/proxy/ipvs/ipset.go declare them, entries formatted as pkg/proxy/ipvs/ipset/ipset.go's
// Entry.String() does, the set created as its CreateSet does (hash: family inet hashsize 1024 maxelem
// 65536; bitmap:port: range 0-65535).
// https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/proxier.go (ipsetInfo),
// https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/ipset.go
import type { ReleaseFeatures } from '../iptables/release.ts';

export type SetType = 'hash:ip,port,ip' | 'hash:ip,port' | 'hash:ip,port,net' | 'bitmap:port' | 'hash:ip';

export const KUBE_LOOP_BACK = 'KUBE-LOOP-BACK';
export const KUBE_CLUSTER_IP = 'KUBE-CLUSTER-IP';
export const KUBE_EXTERNAL_IP = 'KUBE-EXTERNAL-IP';
export const KUBE_EXTERNAL_IP_LOCAL = 'KUBE-EXTERNAL-IP-LOCAL';
export const KUBE_LOAD_BALANCER = 'KUBE-LOAD-BALANCER';
export const KUBE_LOAD_BALANCER_FW = 'KUBE-LOAD-BALANCER-FW';
export const KUBE_LOAD_BALANCER_LOCAL = 'KUBE-LOAD-BALANCER-LOCAL';
export const KUBE_LOAD_BALANCER_SOURCE_IP = 'KUBE-LOAD-BALANCER-SOURCE-IP';
export const KUBE_LOAD_BALANCER_SOURCE_CIDR = 'KUBE-LOAD-BALANCER-SOURCE-CIDR';
export const KUBE_NODE_PORT_TCP = 'KUBE-NODE-PORT-TCP';
export const KUBE_NODE_PORT_LOCAL_TCP = 'KUBE-NODE-PORT-LOCAL-TCP';
export const KUBE_NODE_PORT_UDP = 'KUBE-NODE-PORT-UDP';
export const KUBE_NODE_PORT_LOCAL_UDP = 'KUBE-NODE-PORT-LOCAL-UDP';
export const KUBE_NODE_PORT_SCTP = 'KUBE-NODE-PORT-SCTP-HASH';
export const KUBE_NODE_PORT_LOCAL_SCTP = 'KUBE-NODE-PORT-LOCAL-SCTP-HASH';
export const KUBE_HEALTH_CHECK_NODE_PORT = 'KUBE-HEALTH-CHECK-NODE-PORT';
export const KUBE_IPVS_IPS = 'KUBE-IPVS-IPS';

interface SetInfo {
  name: string;
  type: SetType;
  comment: string;
}

/** `ipsetInfo`, in its order; KUBE-IPVS-IPS only where the release has KUBE-IPVS-FILTER. */
const SET_INFO: readonly SetInfo[] = [
  { name: KUBE_LOOP_BACK, type: 'hash:ip,port,ip', comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose' },
  { name: KUBE_CLUSTER_IP, type: 'hash:ip,port', comment: 'Kubernetes service cluster ip + port for masquerade purpose' },
  { name: KUBE_EXTERNAL_IP, type: 'hash:ip,port', comment: 'Kubernetes service external ip + port for masquerade and filter purpose' },
  { name: KUBE_EXTERNAL_IP_LOCAL, type: 'hash:ip,port', comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local' },
  { name: KUBE_LOAD_BALANCER, type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  { name: KUBE_LOAD_BALANCER_FW, type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange' },
  { name: KUBE_LOAD_BALANCER_LOCAL, type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local' },
  { name: KUBE_LOAD_BALANCER_SOURCE_IP, type: 'hash:ip,port,ip', comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose' },
  { name: KUBE_LOAD_BALANCER_SOURCE_CIDR, type: 'hash:ip,port,net', comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose' },
  { name: KUBE_NODE_PORT_TCP, type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port for masquerade purpose' },
  { name: KUBE_NODE_PORT_LOCAL_TCP, type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local' },
  { name: KUBE_NODE_PORT_UDP, type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port for masquerade purpose' },
  { name: KUBE_NODE_PORT_LOCAL_UDP, type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local' },
  { name: KUBE_NODE_PORT_SCTP, type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'" },
  { name: KUBE_NODE_PORT_LOCAL_SCTP, type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'" },
  { name: KUBE_HEALTH_CHECK_NODE_PORT, type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  { name: KUBE_IPVS_IPS, type: 'hash:ip', comment: 'Addresses on the ipvs interface' },
];

export interface IpSet extends SetInfo {
  /** Entries as `ipset list` prints them (Entry.String()). */
  entries: Set<string>;
}

/** Every set kube-proxy of this release ensures, empty. */
export function emptySets(release: ReleaseFeatures): Map<string, IpSet> {
  const out = new Map<string, IpSet>();
  for (const s of SET_INFO) {
    if (s.name === KUBE_IPVS_IPS && !release.ipvsFilter) continue;
    out.set(s.name, { ...s, entries: new Set() });
  }
  return out;
}

/** hash:ip,port — "10.0.0.1,tcp:80". */
export function ipPortEntry(ip: string, proto: string, port: number): string {
  return `${ip},${proto}:${port}`;
}

/** hash:ip,port,ip / hash:ip,port,net — "10.0.0.1,tcp:80,10.0.0.1" or "…,10.0.0.0/8". */
export function ipPortIpEntry(ip: string, proto: string, port: number, third: string): string {
  return `${ipPortEntry(ip, proto, port)},${third}`;
}

/** `iptables … -m set --match-set <set> <dir>`: a bitmap:port set matches the destination port only. */
export function matchType(set: IpSet): string {
  return set.type === 'bitmap:port' ? 'dst' : 'dst,dst';
}

/** The quoted comment kube-proxy writes on a set's rules (IPSet.getComment). */
export function setComment(set: IpSet): string {
  return `"${set.comment}"`;
}

/** `ipset restore` input: every set created, then its entries sorted (sets.String.List order). */
export function ipsetRestore(sets: ReadonlyMap<string, IpSet>): string {
  const lines: string[] = [];
  for (const s of sets.values()) {
    lines.push(s.type === 'bitmap:port'
      ? `create ${s.name} ${s.type} range 0-65535`
      : `create ${s.name} ${s.type} family inet hashsize 1024 maxelem 65536`);
    for (const e of [...s.entries].sort()) lines.push(`add ${s.name} ${e}`);
  }
  return lines.join('\n') + '\n';
}
