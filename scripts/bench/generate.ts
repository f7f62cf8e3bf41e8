// Generated clusters for the benchmarks: N pods over M nodes for a datapath kind, as topology
// YAML the ordinary loader checks. Pure (text in, text out): unit-tested without root.
import { intToIp, ipToInt } from '../../lab/net.ts';

/** The families the generator can scale up (others are benchmarked from their topology files only). */
export const GENERATED_KINDS = ['eniip', 'ipvlan', 'trunk', 'calico'] as const;
export type DatapathKind = (typeof GENERATED_KINDS)[number];
export function isGeneratedKind(k: string): k is DatapathKind {
  return (GENERATED_KINDS as readonly string[]).includes(k);
}
export type ProxyKind = 'none' | 'ipvs' | 'iptables' | 'ebpf';

export interface GenOptions {
  kind: DatapathKind;
  pods: number;
  /** Default: one node per 100 pods, at least 2, at most 50. */
  nodes?: number;
  serviceProxy?: ProxyKind;
  /** Number of ClusterIP services; each selects `backends` (default: pods labelled a0…a9 round robin). */
  services?: number;
  /** Pod indices that back every service (label svc=yes). Default: services select app=a<i mod 10>. */
  backends?: number[];
  /** Ports of every service: port → targetPort. Default [80]. */
  servicePorts?: number[];
  /** Ports every pod listens on with the lab's tiny HTTP server (none by default: a build benchmark). */
  listen?: number[];
  /** Which pods listen (default all, when `listen` is given). */
  listeners?: number[];
}

/** Nodes for a cluster of `pods` pods: one per 100 pods, between 2 and 50. */
export function defaultNodes(pods: number): number {
  return Math.min(50, Math.max(2, Math.ceil(pods / 100)));
}

export const SERVICE_BASE = '10.96.0.0';

/** The ClusterIP of generated service i (0-based). */
export function serviceIp(i: number): string {
  return intToIp(ipToInt(SERVICE_BASE) + 10 + i);
}

/** The IP of generated pod p. */
export function podIp(kind: DatapathKind, p: number, node: number, nodes: number): string {
  if (kind === 'calico') {
    // Each node owns a /24 block of 10.200.0.0/16; pods are numbered within their node.
    const local = Math.floor(p / nodes);
    return intToIp(ipToInt('10.200.0.0') + node * 256 + 2 + local);
  }
  return intToIp(ipToInt('10.100.0.0') + 1024 + p);
}

export function generateCluster(o: GenOptions): string {
  const nodes = o.nodes ?? defaultNodes(o.pods);
  if (nodes > 250) throw new Error('at most 250 nodes');
  if (o.kind === 'calico' && Math.ceil(o.pods / nodes) > 250) throw new Error('calico: at most 250 pods per node (one /24 block each)');
  if (o.kind === 'trunk' && Math.ceil(o.pods / nodes) > 4000) throw new Error('trunk: at most 4000 pods per node (VLAN ids)');
  if (o.pods > 60000) throw new Error('at most 60000 pods');
  const proxy = o.serviceProxy ?? 'none';
  const base = ipToInt('10.100.0.0');
  const L: string[] = [
    'apiVersion: datapath-lab/v1', 'family: bench', `title: generated ${o.kind} cluster of ${o.pods} pods on ${nodes} nodes`,
    'cluster:',
  ];
  L.push(`  datapath: { kind: ${o.kind} }`);
  L.push(`  serviceProxy: { kind: ${proxy}${o.kind === 'calico' ? ', clusterCIDR: 10.200.0.0/16' : ''} }`);
  L.push('  vpc: { vswitches: [{ name: vsw, cidr: 10.100.0.0/16 }] }');
  if (o.kind === 'calico') L.push('  routers: [{ name: tor1, as: 65001, ip: 10.100.255.254, vswitch: vsw }]');
  L.push('  nodes:');
  for (let n = 0; n < nodes; n++) {
    const primary = `{ name: eth0, vswitch: vsw, ip: ${intToIp(base + 1 + n)} }`;
    if (o.kind === 'calico') L.push(`    - { name: n${n}, rack: tor1, podCIDR: ${intToIp(ipToInt('10.200.0.0') + n * 256)}/24, enis: [${primary}] }`);
    else if (o.kind === 'trunk') L.push(`    - { name: n${n}, enis: [${primary}, { name: eth1, vswitch: vsw, trunk: true }] }`);
    else L.push(`    - { name: n${n}, enis: [${primary}, { name: eth1, vswitch: vsw }] }`);
  }
  L.push('  pods:');
  const backends = new Set(o.backends ?? []);
  const listeners = o.listeners ? new Set(o.listeners) : undefined;
  for (let p = 0; p < o.pods; p++) {
    const node = p % nodes;
    const ip = podIp(o.kind, p, node, nodes);
    const where = o.kind === 'trunk'
      ? `memberEni: { vlan: ${100 + Math.floor(p / nodes)}, vswitch: vsw }`
      : o.kind === 'calico' ? '' : 'eni: eth1';
    const labels = o.backends ? (backends.has(p) ? '{ svc: "yes" }' : '{ svc: "no" }') : `{ app: a${p % 10} }`;
    const listen = o.listen && (!listeners || listeners.has(p)) ? `, listen: [${o.listen.join(', ')}]` : '';
    L.push(`    - { name: p${p}, node: n${node}, ip: ${ip}${where ? `, ${where}` : ''}, labels: ${labels}${listen} }`);
  }
  const nsvc = o.services ?? 0;
  if (nsvc > 0) {
    if (nsvc > 60000) throw new Error('at most 60000 services');
    const ports = o.servicePorts ?? [80];
    L.push('  services:');
    for (let s = 0; s < nsvc; s++) {
      const sel = o.backends ? '{ svc: "yes" }' : `{ app: a${s % 10} }`;
      const pl = ports.map((p) => `{ name: p${p}, port: ${p} }`).join(', ');
      L.push(`    - { name: s${s}, clusterIP: ${serviceIp(s)}, selector: ${sel}, ports: [${pl}] }`);
    }
  }
  L.push('scenarios:', '  - { id: bench, title: build only, probes: [{ from: p0, to: p0, port: 80 }] }');
  return L.join('\n') + '\n';
}
