// What the IPVS proxier's syncProxyRules loop does per service port: the virtual servers (cluster IP,
// external IPs, load-balancer IPs, one per node address for a NodePort), their real servers (syncEndpoint
// with CategorizeEndpoints), the ipset entries and the addresses bound to kube-ipvs0.
// https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/proxier.go (syncProxyRules,
// syncEndpoint); the endpoint choice is pkg/proxy/topology.go's, shared with iptables mode.
import { categorizeEndpoints, trafficPolicies } from '../iptables/policy.ts';
import { isLoopback } from '../iptables/marks.ts';
import type { EpInfo, PortInfo } from '../iptables/model.ts';
import type { ReleaseFeatures } from '../iptables/release.ts';
import { cidrContains, isIpv4 } from '../../net.ts';
import {
  ipPortEntry,
  ipPortIpEntry,
  KUBE_CLUSTER_IP,
  KUBE_EXTERNAL_IP,
  KUBE_EXTERNAL_IP_LOCAL,
  KUBE_HEALTH_CHECK_NODE_PORT,
  KUBE_IPVS_IPS,
  KUBE_LOAD_BALANCER,
  KUBE_LOAD_BALANCER_FW,
  KUBE_LOAD_BALANCER_LOCAL,
  KUBE_LOAD_BALANCER_SOURCE_CIDR,
  KUBE_LOAD_BALANCER_SOURCE_IP,
  KUBE_LOOP_BACK,
  KUBE_NODE_PORT_LOCAL_SCTP,
  KUBE_NODE_PORT_LOCAL_TCP,
  KUBE_NODE_PORT_LOCAL_UDP,
  KUBE_NODE_PORT_SCTP,
  KUBE_NODE_PORT_TCP,
  KUBE_NODE_PORT_UDP,
  type IpSet,
} from './sets.ts';
import type { NoNodeAccess, VirtualServer, VirtualServerKind } from './types.ts';

export interface SyncOptions {
  release: ReleaseFeatures;
  scheduler: string;
  /** kube-proxy's primary node IP (loadBalancerSourceRanges); undefined when it has none. */
  nodeIP: string | undefined;
  /** The node's addresses outside kube-ipvs0 (IPv4, no loopback). */
  nodeAddresses: string[];
  /** Where NodePort virtual servers listen (--nodeport-addresses resolved, else nodeAddresses). */
  nodePortIPs: string[];
  localPolicyFallback: boolean;
}

export interface SyncState {
  sets: Map<string, IpSet>;
  virtualServers: VirtualServer[];
  vips: string[];
  noNodeAccess: NoNodeAccess[];
}

function add(st: SyncState, set: string, entry: string): void {
  st.sets.get(set)!.entries.add(entry);
}

function bind(st: SyncState, ip: string): void {
  if (!st.vips.includes(ip)) st.vips.push(ip);
}

function portOf(ep: EpInfo): number {
  return Number(ep.str.slice(ep.str.lastIndexOf(':') + 1));
}

/**
 * syncEndpoint: the real servers of one virtual server. Only-local ones take the local endpoints
 * (ready, else serving-terminating), or — none local — the cluster's, since 1.21 (PR 97081).
 */
function realServers(p: PortInfo, onlyLocal: boolean, o: SyncOptions): EpInfo[] {
  const pol = trafficPolicies(p);
  const cat = categorizeEndpoints(p.endpoints, pol.usesCluster, pol.usesLocal);
  if (!onlyLocal) return cat.cluster;
  if (cat.local.length > 0) return cat.local;
  return o.localPolicyFallback ? cat.cluster : [];
}

function virtualServer(p: PortInfo, kind: VirtualServerKind, address: string, port: number, onlyLocal: boolean, o: SyncOptions): VirtualServer {
  return {
    kind,
    servicePortName: p.spn,
    address,
    port,
    protocol: p.port.protocol,
    scheduler: o.scheduler,
    ...(p.stickySeconds !== undefined ? { persistentTimeout: p.stickySeconds } : {}),
    realServers: realServers(p, onlyLocal, o).map((e) => ({ address: e.ip, port: portOf(e), weight: 1 })),
  };
}

function syncSourceRanges(st: SyncState, p: PortInfo, ingress: string, o: SyncOptions): void {
  const port = p.port.port;
  add(st, KUBE_LOAD_BALANCER_FW, ipPortEntry(ingress, p.proto, port));
  let allowFromNode = false;
  for (const cidr of p.sourceRanges) {
    add(st, KUBE_LOAD_BALANCER_SOURCE_CIDR, ipPortIpEntry(ingress, p.proto, port, cidr));
    if (o.nodeIP !== undefined && cidrContains(cidr, o.nodeIP)) allowFromNode = true;
  }
  // The node reaches its LB IP without leaving it (the VIP is on kube-ipvs0): allowed only when a
  // range holds the node IP, else dropped in OUTPUT (KUBE-IPVS-OUT-FILTER).
  if (allowFromNode) add(st, KUBE_LOAD_BALANCER_SOURCE_IP, ipPortIpEntry(ingress, p.proto, port, ingress));
  else st.noNodeAccess.push({ ip: ingress, proto: p.proto, port });
}

const NODE_PORT_SETS: Record<string, { set: string; local: string }> = {
  tcp: { set: KUBE_NODE_PORT_TCP, local: KUBE_NODE_PORT_LOCAL_TCP },
  udp: { set: KUBE_NODE_PORT_UDP, local: KUBE_NODE_PORT_LOCAL_UDP },
  sctp: { set: KUBE_NODE_PORT_SCTP, local: KUBE_NODE_PORT_LOCAL_SCTP },
};

function syncNodePort(st: SyncState, p: PortInfo, o: SyncOptions, externalLocal: boolean): void {
  const sets = NODE_PORT_SETS[p.proto]!;
  // bitmap:port for TCP/UDP; SCTP needs hash:ip,port, one entry per node IP.
  const entries = p.proto === 'sctp' ? o.nodePortIPs.map((ip) => ipPortEntry(ip, p.proto, p.nodePort)) : [String(p.nodePort)];
  for (const e of entries) add(st, sets.set, e);
  if (externalLocal) for (const e of entries) add(st, sets.local, e);
  // No bind: the node already holds these addresses.
  for (const ip of o.nodePortIPs) st.virtualServers.push(virtualServer(p, 'nodePort', ip, p.nodePort, externalLocal, o));
}

/** One service port: what syncProxyRules does for it, into `st`. */
export function syncServicePort(st: SyncState, p: PortInfo, o: SyncOptions): void {
  const { externalLocal, internalLocal } = trafficPolicies(p);
  const port = p.port.port;
  // Hairpin: every local endpoint, ready or not (the EndpointsMap holds them all).
  for (const e of p.endpoints) if (e.isLocal) add(st, KUBE_LOOP_BACK, ipPortIpEntry(e.ip, p.proto, portOf(e), e.ip));

  add(st, KUBE_CLUSTER_IP, ipPortEntry(p.svc.clusterIP, p.proto, port));
  st.virtualServers.push(virtualServer(p, 'clusterIP', p.svc.clusterIP, port, internalLocal, o));
  bind(st, p.svc.clusterIP);

  for (const eip of p.externalIPs) {
    add(st, externalLocal ? KUBE_EXTERNAL_IP_LOCAL : KUBE_EXTERNAL_IP, ipPortEntry(eip, p.proto, port));
    st.virtualServers.push(virtualServer(p, 'externalIP', eip, port, externalLocal, o));
    // Not bound to kube-ipvs0 when another interface of the node already has it.
    if (!o.nodeAddresses.includes(eip)) bind(st, eip);
  }

  for (const ingress of p.lbIPs) {
    add(st, KUBE_LOAD_BALANCER, ipPortEntry(ingress, p.proto, port));
    if (externalLocal) add(st, KUBE_LOAD_BALANCER_LOCAL, ipPortEntry(ingress, p.proto, port));
    if (p.sourceRanges.length > 0) syncSourceRanges(st, p, ingress, o);
    st.virtualServers.push(virtualServer(p, 'loadBalancer', ingress, port, externalLocal, o));
    if (!o.nodeAddresses.includes(ingress)) bind(st, ingress);
  }

  if (p.nodePort !== 0) {
    // kube-proxy `continue`s when it found no node address: no NodePort and no health check port.
    if (o.nodePortIPs.length === 0) return;
    syncNodePort(st, p, o, externalLocal);
  }
  // healthCheckNodePort counts only for a LoadBalancer with the Local policy (NeedsHealthCheck).
  if (p.svc.healthCheckNodePort && p.type === 'LoadBalancer' && externalLocal) add(st, KUBE_HEALTH_CHECK_NODE_PORT, String(p.svc.healthCheckNodePort));
}

/** The addresses NodePort virtual servers listen on: --nodeport-addresses (no loopback), else every node address. */
export function nodePortIPs(nodeAddresses: readonly string[], nodePortAddresses: readonly string[]): string[] {
  if (nodePortAddresses.length === 0) return [...nodeAddresses];
  return nodePortAddresses.filter((a) => isIpv4(a) && !isLoopback(a));
}

/** After the loop: KUBE-IPVS-IPS holds every bound address (≥ 1.26). */
export function finishSets(st: SyncState, release: ReleaseFeatures): void {
  if (release.ipvsFilter) for (const a of st.vips) add(st, KUBE_IPVS_IPS, a);
}

/** `ipvsadm -R` input: each virtual server (NAT, "Masq") with its real servers, weight 1. */
export function ipvsadmRestore(vss: readonly VirtualServer[]): string {
  const lines: string[] = [];
  for (const vs of vss) {
    const flag = vs.protocol === 'UDP' ? '-u' : vs.protocol === 'SCTP' ? '--sctp-service' : '-t';
    const persist = vs.persistentTimeout !== undefined ? ` -p ${vs.persistentTimeout}` : '';
    lines.push(`-A ${flag} ${vs.address}:${vs.port} -s ${vs.scheduler}${persist}`);
    for (const rs of vs.realServers) lines.push(`-a ${flag} ${vs.address}:${vs.port} -r ${rs.address}:${rs.port} -m -w ${rs.weight}`);
  }
  return lines.join('\n') + '\n';
}
