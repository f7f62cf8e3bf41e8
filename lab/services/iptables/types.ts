/**
 * Input model for the kube-proxy iptables-mode payload builder (see proxier.ts).
 *
 * It is deliberately close to what kube-proxy sees: a node, its config flags, and the Service /
 * EndpointSlice objects (flattened). IPv4 only.
 */

export type KubeProxyProtocol = 'TCP' | 'UDP' | 'SCTP';
export type TrafficPolicy = 'Cluster' | 'Local';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/**
 * Which proxier layout to reproduce (default: the one of input.version, see release.ts).
 * - 'ext': kube-proxy ≥1.24 layout (KUBE-EXT-/KUBE-SVL-, masquerade rule inside KUBE-SVC-,
 *   KUBE-PROXY-FIREWALL, "<spn> -> <ep>" comments on the load-balancing rules). Written against the
 *   ≥1.28 source (KUBE-FIREWALL localnet rule owned by kube-proxy, conntrack-liberal switch).
 * - 'xlb': kube-proxy 1.23 layout (KUBE-XLB- for externalTrafficPolicy=Local, KUBE-MARK-DROP,
 *   NodePort/externalIP masquerade rules inside KUBE-SVC-, "<spn>" comments). Releases ≤1.22 additionally
 *   commented KUBE-XLB load-balancing rules "Balancing rule <i> for <spn>"; that variant is not modelled.
 */
export type IptablesFlavor = 'ext' | 'xlb';

/**
 * How the jumps from the built-in chains (PREROUTING → KUBE-SERVICES, …) are written.
 * kube-proxy does not put these in its iptables-restore input; it runs `iptables -I <chain> 1 …`
 * (EnsureRule Prepend) for each entry of `iptablesJumpChains` before the restore.
 * - 'insert' (default): `-I <CHAIN> 1 …` lines in kube-proxy's (and kubelet's) call order, so the
 *   final order equals a real node's, in front of whatever the chain already held.
 * - 'append': `-A <CHAIN> …` lines in the final order (for an empty namespace / a flushed table).
 * - 'none': leave the built-in chains alone (payload = exactly kube-proxy's restore input).
 */
export type JumpMode = 'insert' | 'append' | 'none';

export interface KubeProxyServicePort {
  /** Port name; empty/undefined → the service port name has no ":<name>" suffix. */
  name?: string;
  protocol: KubeProxyProtocol;
  port: number;
  /** Numeric target port: every endpoint of this port is "<ip>:<targetPort>". */
  targetPort: number;
  nodePort?: number;
}

export interface KubeProxyEndpoint {
  ip: string;
  /** Node the endpoint lives on; local iff equal to KubeProxyIptablesInput.nodeName. */
  nodeName: string;
  /** EndpointConditions.ready (default true). */
  ready?: boolean;
  /** EndpointConditions.serving (default = ready). Used only for the terminating-endpoint fallback ('ext'). */
  serving?: boolean;
  /** EndpointConditions.terminating (default false). */
  terminating?: boolean;
  /**
   * The EndpointSlice's ports by port name ("" for an unnamed port): the endpoint's port for the service
   * port of that name; a service port with no entry has no such endpoint. Absent → every service port's
   * numeric targetPort.
   */
  ports?: Record<string, number>;
}

export interface KubeProxySessionAffinity {
  /** Service.spec.sessionAffinityConfig.clientIP (presence = sessionAffinity: ClientIP). */
  clientIP: {
    /** Default 10800 (kube-proxy's StickyMaxAgeSeconds default). */
    timeoutSeconds?: number;
  };
}

export interface KubeProxyService {
  namespace: string;
  name: string;
  /** Service.spec.type; inferred when absent: LoadBalancer if loadBalancerIPs, NodePort if any port has a nodePort, else ClusterIP. */
  type?: ServiceType;
  clusterIP: string;
  externalIPs: string[];
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy?: TrafficPolicy;
  sessionAffinity?: KubeProxySessionAffinity;
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs?: string[];
  /** spec.loadBalancerSourceRanges (CIDRs). */
  loadBalancerSourceRanges?: string[];
  /** spec.healthCheckNodePort (only used when externalTrafficPolicy=Local). */
  healthCheckNodePort?: number;
  ports: KubeProxyServicePort[];
  endpoints: KubeProxyEndpoint[];
}

export interface KubeProxyIptablesInput {
  /** kube-proxy --hostname-override / node name; decides which endpoints are local. */
  nodeName: string;
  /** Node IPs (the first one is kube-proxy's primary nodeIP, used for loadBalancerSourceRanges). */
  nodeIPs: string[];
  /** --cluster-cidr. When absent the local-traffic detector is "not implemented" (rules using it are omitted). */
  clusterCIDR?: string;
  /** --masquerade-all (default false). */
  masqueradeAll?: boolean;
  /** --iptables-masquerade-bit (default 14 → mark 0x00004000). */
  masqueradeBit?: number;
  /** kube-proxy release reproduced, "1.MINOR[.PATCH]" (default DEFAULT_KUBE_PROXY_VERSION; release.ts). */
  version?: string;
  /** Proxier layout; overrides the one of `version` (kept for payload-level tests). */
  flavor?: IptablesFlavor;
  /**
   * Whether kube-proxy could create its nfacct counters on the node (it probes; default false): then
   * releases ≥1.30/≥1.31 write their `-m nfacct` matches.
   */
  nfacct?: boolean;
  services: KubeProxyService[];

  /** --iptables-localhost-nodeports ('ext' only; default true as in kube-proxy). */
  localhostNodePorts?: boolean;
  /** --nodeport-addresses, already resolved to the node's IPs. Absent/empty = all local addresses. */
  nodePortAddresses?: string[];
  /** Whether `MASQUERADE --random-fully` is used (kube-proxy: when iptables supports it; default true). */
  randomFully?: boolean;
  /** net.netfilter.nf_conntrack_tcp_be_liberal != 0 → no "ctstate INVALID -j DROP" rule ('ext' only; default false). */
  conntrackTCPLiberal?: boolean;
  /** Jumps from the built-in chains (default 'insert'). */
  jumps?: JumpMode;
  /**
   * Also write what kubelet owns on such a node (default true): the INPUT/OUTPUT → KUBE-FIREWALL jumps,
   * and for 'xlb' the KUBE-MARK-DROP mark rule and the KUBE-FIREWALL "dropping marked packets" rule
   * (--iptables-drop-bit 15 → 0x00008000).
   */
  kubelet?: boolean;
  /** --iptables-drop-bit of kubelet ('xlb' + kubelet only; default 15). */
  dropBit?: number;
  /** Declare the empty KUBE-PROXY-CANARY chain in mangle, nat and filter, as kube-proxy's monitor does (default true). */
  canary?: boolean;
  /**
   * Chains currently present in the nat table (from iptables-save). Stale kube-proxy service chains
   * among them are flushed and deleted (`-X`), as kube-proxy does on a full sync. Default: none.
   */
  existingNatChains?: string[];
}

/** Per service port: the chain names the payload uses for it. */
export interface ServicePortChains {
  /** ServicePortName.String(), e.g. "default/nginx-demo-1" or "kube-system/kube-dns:dns". */
  servicePortName: string;
  protocol: 'tcp' | 'udp' | 'sctp';
  clusterIP: string;
  port: number;
  nodePort?: number;
  /** KUBE-SVC-<hash> (always named; present in the payload only when used). */
  svcChain: string;
  svlChain: string;
  extChain: string;
  fwChain: string;
  xlbChain: string;
  /** Which of the chains above (and SEP chains) were actually declared. */
  declaredChains: string[];
  /** The endpoints load-balanced in KUBE-SVC-, in rule order, with their SEP chain and probability. */
  clusterEndpoints: EndpointRule[];
  /** The endpoints load-balanced in KUBE-SVL- ('ext') or KUBE-XLB- ('xlb'). */
  localEndpoints: EndpointRule[];
  hasEndpoints: boolean;
}

export interface EndpointRule {
  /** "ip:port" */
  endpoint: string;
  sepChain: string;
  isLocal: boolean;
  /** What kube-proxy writes ("0.5000000000"), undefined on the last (unconditional) rule. */
  probability?: string;
  /** What iptables-save reads back ("0.50000000000"), undefined on the last rule. */
  probabilityReadBack?: string;
}

export interface KubeProxyIptablesResult {
  /** Complete iptables-restore input (filter, nat and, with canary, mangle), each table ending in COMMIT. */
  payload: string;
  /** Declared chains per table, in payload order. */
  chains: { filter: string[]; nat: string[]; mangle: string[] };
  servicePorts: ServicePortChains[];
  /** The masquerade mark as kube-proxy formats it ("0x00004000"). */
  masqueradeMark: string;
  /** The kube-proxy release reproduced. */
  version: string;
}
