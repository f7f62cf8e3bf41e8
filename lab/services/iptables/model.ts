// What the layouts work from: each service port with its endpoints as kube-proxy's ServicePortMap and
// EndpointsMap hold them (pkg/proxy/serviceport.go, endpoint.go, endpointslicecache.go), and the
// resolved options of one kube-proxy (flags + the release it reproduces, see release.ts).
import { endpointChainName, joinHostPort, protoLower, servicePortChainName, servicePortName } from './hash.ts';
import { computeProbability, predictReadBack } from './probability.ts';
import { releaseFeatures, type ReleaseFeatures } from './release.ts';
import type {
  EndpointRule,
  IptablesFlavor,
  JumpMode,
  KubeProxyEndpoint,
  KubeProxyIptablesInput,
  KubeProxyService,
  KubeProxyServicePort,
  ServicePortChains,
  ServiceType,
} from './types.ts';
import { isLoopback, masqueradeMarkForBit } from './marks.ts';

const DEFAULT_STICKY_SECONDS = 10800;
const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

export interface EpInfo {
  ip: string;
  str: string;
  chain: string;
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

export interface PortInfo {
  svc: KubeProxyService;
  port: KubeProxyServicePort;
  type: ServiceType;
  spn: string;
  proto: 'tcp' | 'udp' | 'sctp';
  nodePort: number;
  externalIPs: string[];
  lbIPs: string[];
  sourceRanges: string[];
  stickySeconds: number | undefined;
  chains: { svc: string; svl: string; ext: string; fw: string; xlb: string };
  endpoints: EpInfo[];
  report: ServicePortChains;
}

export interface Options {
  flavor: IptablesFlavor;
  release: ReleaseFeatures;
  masqueradeMark: string;
  masqueradeAll: boolean;
  clusterCIDR: string | undefined;
  nodeIP: string | undefined;
  localhostNodePorts: boolean;
  nodePortAddresses: string[];
  nfacct: { ctInvalid: boolean; localhostNodePorts: boolean };
  randomFully: boolean;
  conntrackTCPLiberal: boolean;
  jumps: JumpMode;
  kubelet: boolean;
  dropMark: string;
  canary: boolean;
  existingNatChains: string[];
  largeClusterMode: boolean;
}

function inferType(svc: KubeProxyService): ServiceType {
  if (svc.type) return svc.type;
  if ((svc.loadBalancerIPs ?? []).length > 0) return 'LoadBalancer';
  if (svc.ports.some((p) => (p.nodePort ?? 0) > 0)) return 'NodePort';
  return 'ClusterIP';
}

function byString(a: EpInfo, b: EpInfo): number {
  return a.str < b.str ? -1 : a.str > b.str ? 1 : 0;
}

function endpointInfo(ep: KubeProxyEndpoint, str: string, spn: string, proto: string, nodeName: string): EpInfo {
  const ready = ep.ready ?? true;
  return {
    ip: ep.ip,
    str,
    chain: endpointChainName(spn, proto, str),
    isLocal: ep.nodeName === nodeName,
    ready,
    serving: ep.serving ?? ready,
    terminating: ep.terminating ?? false,
  };
}

/** The endpoints of one service port, keyed and sorted by "ip:port" like kube-proxy's EndpointsMap. */
function portEndpoints(svc: KubeProxyService, port: KubeProxyServicePort, spn: string, proto: string, nodeName: string): EpInfo[] {
  const byKey = new Map<string, EpInfo>();
  for (const ep of svc.endpoints) {
    // An EndpointSlice's ports (by port name) are authoritative: an endpoint from a slice without this
    // port is not one of its endpoints. Without slice ports, the service's numeric targetPort.
    const target = ep.ports ? ep.ports[port.name ?? ''] : port.targetPort;
    if (target === undefined) continue;
    const str = joinHostPort(ep.ip, target);
    byKey.set(str, endpointInfo(ep, str, spn, proto, nodeName));
  }
  return [...byKey.values()].sort(byString);
}

export function buildPortInfos(input: KubeProxyIptablesInput, release: ReleaseFeatures): PortInfo[] {
  const out: PortInfo[] = [];
  for (const svc of input.services) {
    // kube-proxy skips services without a cluster IP (headless) — api.IsServiceIPSet.
    if (!svc.clusterIP || svc.clusterIP === 'None') continue;
    const type = inferType(svc);
    for (const port of svc.ports) {
      const spn = servicePortName(svc.namespace, svc.name, port.name, release.spnAlwaysColon);
      const proto = protoLower(port.protocol) as 'tcp' | 'udp' | 'sctp';
      const chains = {
        svc: servicePortChainName('KUBE-SVC-', spn, proto),
        svl: servicePortChainName('KUBE-SVL-', spn, proto),
        ext: servicePortChainName('KUBE-EXT-', spn, proto),
        fw: servicePortChainName('KUBE-FW-', spn, proto),
        xlb: servicePortChainName('KUBE-XLB-', spn, proto),
      };
      out.push({
        svc,
        port,
        type,
        spn,
        proto,
        nodePort: port.nodePort ?? 0,
        externalIPs: [...svc.externalIPs],
        lbIPs: [...(svc.loadBalancerIPs ?? [])],
        sourceRanges: (svc.loadBalancerSourceRanges ?? []).map((s) => s.trim()).filter((s) => s.length > 0),
        stickySeconds: svc.sessionAffinity ? (svc.sessionAffinity.clientIP.timeoutSeconds ?? DEFAULT_STICKY_SECONDS) : undefined,
        chains,
        endpoints: portEndpoints(svc, port, spn, proto, input.nodeName),
        report: {
          servicePortName: spn,
          protocol: proto,
          clusterIP: svc.clusterIP,
          port: port.port,
          ...(port.nodePort ? { nodePort: port.nodePort } : {}),
          svcChain: chains.svc,
          svlChain: chains.svl,
          extChain: chains.ext,
          fwChain: chains.fw,
          xlbChain: chains.xlb,
          declaredChains: [],
          clusterEndpoints: [],
          localEndpoints: [],
          hasEndpoints: false,
        },
      });
    }
  }
  return out;
}

export function endpointRules(eps: readonly EpInfo[]): EndpointRule[] {
  const n = eps.length;
  return eps.map((ep, i) => {
    const rule: EndpointRule = { endpoint: ep.str, sepChain: ep.chain, isLocal: ep.isLocal };
    if (i < n - 1) {
      rule.probability = computeProbability(n - i);
      rule.probabilityReadBack = predictReadBack(rule.probability);
    }
    return rule;
  });
}

export function inputRelease(input: KubeProxyIptablesInput): ReleaseFeatures {
  return releaseFeatures(input.version);
}

export function resolveOptions(input: KubeProxyIptablesInput, release: ReleaseFeatures, ports: readonly PortInfo[]): Options {
  const flavor = input.flavor ?? release.layout;
  if (flavor !== 'ext' && flavor !== 'xlb') throw new Error(`unknown flavor ${String(flavor)}`);
  const nodePortAddresses = (input.nodePortAddresses ?? []).filter((a) => a.trim().length > 0);
  // NewProxier: "If the nodePortAddresses doesn't contain loopback, disable localhostNodePorts".
  let localhostNodePorts = input.localhostNodePorts ?? true;
  if (nodePortAddresses.length > 0 && !nodePortAddresses.some(isLoopback)) localhostNodePorts = false;
  const totalEndpoints = ports.reduce((n, p) => n + p.endpoints.length, 0);
  // kube-proxy writes the nfacct matches only when it could create the counters on the node
  // (input.nfacct) and its release knows them.
  const nfacct = input.nfacct ?? false;
  return {
    flavor,
    release,
    masqueradeMark: masqueradeMarkForBit(input.masqueradeBit ?? 14),
    masqueradeAll: input.masqueradeAll ?? false,
    clusterCIDR: input.clusterCIDR && input.clusterCIDR.trim() ? input.clusterCIDR.trim() : undefined,
    nodeIP: input.nodeIPs[0],
    localhostNodePorts,
    nodePortAddresses,
    nfacct: { ctInvalid: nfacct && release.nfacctCtInvalid, localhostNodePorts: nfacct && release.nfacctLocalhostNodePorts && localhostNodePorts },
    randomFully: input.randomFully ?? true,
    conntrackTCPLiberal: input.conntrackTCPLiberal ?? false,
    jumps: input.jumps ?? 'insert',
    kubelet: input.kubelet ?? true,
    dropMark: masqueradeMarkForBit(input.dropBit ?? 15),
    canary: input.canary ?? true,
    existingNatChains: input.existingNatChains ?? [],
    largeClusterMode: totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
  };
}
