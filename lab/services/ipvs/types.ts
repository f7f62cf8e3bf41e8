// Input and output of the IPVS-mode builder. The input is the iptables builder's (the node, its flags,
// the Services with their EndpointSlice endpoints) plus what only the IPVS proxier reads.
import type { KubeProxyIptablesInput, KubeProxyProtocol } from '../iptables/types.ts';
import type { IpSet } from './sets.ts';

export interface IpvsInput extends KubeProxyIptablesInput {
  /**
   * The node's own addresses outside kube-ipvs0 (netlink GetAllLocalAddressesExcept): NodePort virtual
   * servers listen on them (without --nodeport-addresses), and an external or load-balancer IP among
   * them is not bound to kube-ipvs0. Default: nodeIPs. (nodeIPs[0] stays the primary node IP that
   * loadBalancerSourceRanges are compared with.)
   */
  nodeAddresses?: string[];
  /**
   * A Local-policy virtual server with no local endpoint gets every endpoint
   * (https://github.com/kubernetes/kubernetes/pull/97081, 1.21). Default: the release's behaviour.
   */
  localPolicyFallback?: boolean;
  /** --ipvs-scheduler (default rr). */
  scheduler?: string;
}

export interface RealServer {
  address: string;
  port: number;
  weight: number;
}

export type VirtualServerKind = 'clusterIP' | 'externalIP' | 'loadBalancer' | 'nodePort';

export interface VirtualServer {
  kind: VirtualServerKind;
  /** The ServicePortName it serves ("ns/name:port"). */
  servicePortName: string;
  address: string;
  port: number;
  protocol: KubeProxyProtocol;
  scheduler: string;
  /** sessionAffinity ClientIP: FlagPersistent with this timeout (seconds). */
  persistentTimeout?: number;
  realServers: RealServer[];
}

/** A load-balancer IP:port the node itself may not reach (KUBE-IPVS-OUT-FILTER). */
export interface NoNodeAccess {
  ip: string;
  proto: string;
  port: number;
}

export interface IpvsResult {
  /** Every set kube-proxy ensures, with its entries. */
  sets: ReadonlyMap<string, IpSet>;
  /** `ipset restore` input. */
  ipset: string;
  /** `iptables-restore` input (nat and filter). */
  iptables: string;
  /** `ipvsadm -R` input. */
  ipvsadm: string;
  virtualServers: VirtualServer[];
  /** Addresses bound to kube-ipvs0 (/32), in the order first bound. */
  vips: string[];
  /** The kube-proxy release reproduced. */
  version: string;
}
