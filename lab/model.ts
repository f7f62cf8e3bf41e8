// The validated model of a topology file: what the loader hands to the compilers.
// Field names follow the YAML (schema/topology.schema.json); defaults are already applied.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
/** A probe's transport, as the topology spells it (lower case, as iptables' -p). */
export type ProbeProtocol = 'tcp' | 'udp' | 'sctp';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface VSwitch {
  name: string;
  cidr: string; // a.b.c.d/len
  gateway: string;
}

export interface Eni {
  name: string; // interface name inside the node, e.g. eth1
  vswitch: string;
  ip?: string; // primary ENI: the node IP
  mac?: string;
  primary: boolean;
  trunk: boolean;
  securityGroups: string[];
}

export interface ClusterNode {
  name: string;
  ip: string; // primary IP (on the primary ENI)
  enis: Eni[];
  /** Calico: pod block announced over BGP. */
  podCIDR?: string;
  as?: number;
  rack?: string;
}

export interface Pod {
  name: string;
  namespace: string;
  node: string;
  ip: string;
  eni?: string; // ENIIP / IPVLAN: the ENI owning the pod IP
  memberEni?: MemberEni; // trunk: the pod's own member ENI
  labels: Record<string, string>;
  listen: number[];
  /** UDP and SCTP ports the pod serves (listen is TCP). */
  listenUdp: number[];
  listenSctp: number[];
  /** Named container ports (a Service's named targetPort resolves through them). */
  namedPorts: Record<string, number>;
  /** The pod's Ready condition (default true); an unready pod's endpoint is not ready. */
  ready: boolean;
  /** Being deleted (default false): its endpoint is terminating, serving while still ready. */
  terminating: boolean;
}

export interface MemberEni {
  vlan: number;
  vswitch: string;
  mac?: string;
  securityGroups: string[];
}

export interface ServicePort {
  name?: string;
  protocol: Protocol;
  port: number;
  /** A number, or the name of a container port (resolved per endpoint pod). */
  targetPort: number | string;
  nodePort?: number;
}

/** An endpoint as an EndpointSlice carries it (cluster.manifests), kept even when no modelled pod holds its address. */
export interface SliceEndpoint {
  ip: string;
  nodeName?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** The slice's ports by name ("" = unnamed). */
  ports: Record<string, number>;
}

export interface Service {
  name: string;
  namespace: string;
  clusterIP: string;
  externalIPs: string[];
  externalTrafficPolicy: TrafficPolicy;
  ports: ServicePort[];
  selector: Record<string, string>;
  /** Pods selected by `selector` (or holding a slice endpoint's address), resolved by the loader, in file order. */
  endpoints: string[];
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  internalTrafficPolicy: TrafficPolicy;
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  healthCheckNodePort?: number;
  /** sessionAffinity ClientIP: its timeout in seconds (spec.sessionAffinityConfig.clientIP.timeoutSeconds). */
  sessionAffinityTimeout?: number;
  /** From EndpointSlices (cluster.manifests): the endpoints as they are, instead of the selector's pods. */
  sliceEndpoints?: SliceEndpoint[];
}

export interface SlbBackend {
  pod: string;
  port: number;
}

export interface Slb {
  name: string;
  vip: string;
  port: number;
  backends: SlbBackend[];
  /** Drop a flow whose chosen backend sits behind the ENI the request came from (L4 hairpin). */
  dropHairpin: boolean;
}

export interface Client {
  name: string;
  ip: string;
  /** The router this client hangs off (default: the first SLB, the VPC's edge). */
  router?: string;
}

export interface SecurityGroupRule {
  direction: 'ingress' | 'egress';
  action: 'accept' | 'drop';
  protocol: 'tcp' | 'udp' | 'icmp' | 'all';
  ports?: [number, number];
  peer: { cidr: string } | { group: string };
  priority: number;
}

export interface SecurityGroup {
  name: string;
  rules: SecurityGroupRule[];
}

export interface BgpRouter {
  name: string;
  as: number;
  ip: string;
  peers: string[]; // other routers' names (core) — ToR→nodes are implied by node.rack
  /** A top-of-rack router: the segment it switches (a bridge with the segment's gateway). */
  vswitch?: string;
}

export interface DatapathOptions {
  /** A registered family (lab/families/registry.ts). */
  kind: string;
  /** ENIIP, article era: rule 2048 also carries `iif cali…` (Terway ≤ 2022). */
  legacyIifRule: boolean;
  /** trunk: 'veth' (article: cali veth + member VLAN) or 'vlan' (current Terway: VLAN is the pod's eth0). */
  trunkMode: 'veth' | 'vlan';
  /** ipvlan: ExternalIPs short-cut in-cluster by the eBPF table (in_cluster_loadbalance). */
  inClusterLoadBalance: boolean;
  /** Options other families declare in their schema fragment (lab/families/<kind>/index.ts). */
  [option: string]: unknown;
}

export interface ServiceProxyOptions {
  kind: 'ipvs' | 'iptables' | 'ebpf' | 'none';
  clusterCIDR?: string;
  masqueradeAll: boolean;
  /** --nodeport-addresses (CIDRs; empty = every local address). */
  nodePortAddresses: string[];
  /** The apiserver's --service-node-port-range: every nodePort must lie in it (default 30000-32767). */
  nodePortRange: [number, number];
  /** k8s ≥ 1.21: a Local-policy VIP with no local endpoint falls back to all endpoints. */
  localPolicyFallback: boolean;
  /**
   * The kube-proxy release reproduced ("1.18", "1.24", "1.31"…): the iptables layout (KUBE-XLB before
   * 1.24, KUBE-EXT since), the service port name behind the chain hashes, the mark's form, nfacct —
   * lab/services/iptables/release.ts lists each change with its source.
   */
  version: string;
  serviceCIDR?: string;
}

export interface Cluster {
  datapath: DatapathOptions;
  serviceProxy: ServiceProxyOptions;
  vswitches: VSwitch[];
  nodes: ClusterNode[];
  pods: Pod[];
  services: Service[];
  slbs: Slb[];
  clients: Client[];
  securityGroups: SecurityGroup[];
  routers: BgpRouter[];
}

/** A capture expectation: the request seen (or not) at an interface, optionally with addresses. */
export interface CaptureExpect {
  at: string; // interface reference, e.g. "nginx-a:eth0", "ecs1:cali(nginx-a)", "ecs1:*"
  src?: string; // address reference
  dst?: string;
  packet?: 'request' | 'reply';
}

export interface ConntrackExpect {
  node: string;
  orig: { src?: string; dst: string; dport?: number };
  reply?: { src?: string; dst?: string };
  absent?: boolean;
}

/** A service of the tc eBPF load balancer's table on a node (as `lab lb list` prints it). */
export interface EbpfLbExpect {
  node: string;
  service: string; // address reference with port, e.g. "svc/nginx:clusterIP"
  backends: string[]; // pod names; [] = a frontend without backends
}

export interface IpvsExpect {
  node: string;
  service: string; // address reference with port, e.g. "svc/nginx:externalIP"
  backends: string[]; // pod names; [] = no real server
}

/**
 * A security-group verdict at an ENI's vSwitch port, read from the kernel's packet counters of
 * the group's rules (iptables-save -c in the vSwitch namespace, before and after the probe) and
 * from the captures there.
 */
export interface SgVerdictExpect {
  group: string;
  at: string; // the ENI's port in its vSwitch: "vsw-a:vlan(nginx)", "vsw-a:ecs1-eth0"
  packet?: 'request' | 'reply';
}

export interface Expect {
  reachable?: boolean;
  /** The request (or reply) was dropped by a rule of this group, at this port. */
  droppedBy?: SgVerdictExpect;
  /** A rule of this group admitted the request (or reply) at this port (one entry per port). */
  admittedBy: SgVerdictExpect[];
  answeredBy?: string;
  seen: CaptureExpect[];
  notSeen: CaptureExpect[];
  addressNeverSeen: string[];
  path?: string[];
  stacks?: number;
  conntrack: ConntrackExpect[];
  ipvs: IpvsExpect[];
  /** serviceProxy ebpf: a node's service table, read back from the kernel's eBPF maps after the probes. */
  ebpfLb?: EbpfLbExpect[];
  /** TCP checksums of the request and reply as captured: full and valid, or CHECKSUM_PARTIAL
   *  (the pseudo-header sum of the addresses the packet carries there), never anything else. */
  checksums?: boolean;
  serverSees?: { src: string };
  /** bulk probes: every listed backend must answer a share of connections within [min,max] %. */
  distribution?: { backends: string[]; minPercent: number; maxPercent: number };
  /** Rules whose packet counters increased during the probe (iptables-save -c). */
  iptables?: IptablesExpect[];
  /** BGP sessions as BIRD reports them (birdc show protocols). */
  bgpSessions?: BgpSessionExpect[];
  /** Routes in a router's BIRD table (learnedFrom) or kernel table (via, dev, type, proto). */
  routes?: RouteExpect[];
  /** veth pairing read from the kernel: `at`'s peer is `peer` (ifindex / iflink). */
  vethPeer?: VethPeerExpect[];
}

export interface IptablesExpect {
  node: string;
  table: 'nat' | 'filter' | 'mangle' | 'raw';
  /** Chains (then optionally a target such as DNAT); `KUBE-SEP-*` matches any KUBE-SEP- chain. */
  path: string[];
  probabilities?: number[];
}

export interface BgpSessionExpect {
  router: string; // a router or a node (both run BIRD)
  peer?: string;
  established: boolean;
}

export interface RouteExpect {
  router: string;
  prefix: string;
  learnedFrom?: string;
  via?: string;
  dev?: string;
  type?: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';
  proto?: string;
  absent?: boolean;
}

export interface VethPeerExpect {
  at: string;
  peer: string;
}

export interface Probe {
  name: string;
  from: string; // object name (node, pod, client)
  to: string; // address reference
  port?: number;
  protocol: ProbeProtocol;
  backend?: string; // repeat until this pod answers
  attempts: number;
  timeoutSeconds: number;
  connections?: number; // bulk mode
  expect: Expect;
}

export interface Scenario {
  id: string;
  title: string;
  story?: string;
  /** Per-scenario overrides of the cluster's datapath/serviceProxy options. */
  datapath: Partial<DatapathOptions>;
  serviceProxy: Partial<ServiceProxyOptions>;
  securityGroupBindings?: Record<string, string[]>;
  /** service name → endpoint pods for this scenario (overrides the selector). */
  endpoints?: Record<string, string[]>;
  probes: Probe[];
}

export interface Topology {
  file: string;
  family: string;
  title: string;
  source?: string;
  cluster: Cluster;
  scenarios: Scenario[];
}

export type ObjectKind = 'node' | 'pod' | 'vswitch' | 'router' | 'slb' | 'client';
