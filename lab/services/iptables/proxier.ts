/**
 * kube-proxy iptables mode, rebuilt as a pure function: Service/Endpoint state of one node in, the
 * complete `iptables-restore` input out (filter + nat, and the mangle canary), as kube-proxy writes it.
 *
 * Sources (kubernetes `pkg/proxy/iptables/proxier.go`):
 *  - flavour 'ext': the ≥1.28 `syncProxyRules` / `writeServiceToEndpointRules` (KUBE-EXT/KUBE-SVL,
 *    KUBE-PROXY-FIREWALL, `CategorizeEndpoints` from pkg/proxy/topology.go);
 *  - flavour 'xlb': the 1.23 `syncProxyRules` (KUBE-XLB, KUBE-MARK-DROP, masquerade rules for
 *    externalIPs/NodePorts inside KUBE-SVC, `FilterEndpoints`).
 * Golden check: test/unit/kubeproxy-iptables.test.ts replays kubernetes'
 * `TestOverallIPTablesRulesWithMultipleServices` and compares chain by chain.
 *
 * Differences from a live kube-proxy, all deliberate:
 *  - Services are emitted in input order (kube-proxy walks a Go map, so its order is random; only the
 *    order *within* a chain matters to the kernel, and that is reproduced exactly). Endpoints are sorted
 *    by "ip:port" string, deduplicated, exactly like kube-proxy's EndpointsMap.
 *  - The built-in-chain jumps (which kube-proxy/kubelet add with `iptables -I … 1`, outside the restore)
 *    are written into the same payload (see JumpMode), so ONE `iptables-restore --noflush` call sets
 *    up a whole node. The KUBE-PROXY-CANARY chains (created by kube-proxy's monitor) are declared too.
 *  - No nfacct rules (kube-proxy adds them only when nfacct objects exist), no stale-conntrack work.
 *
 * Apply with `iptables-restore --noflush --counters` (what kube-proxy runs); accepted by both
 * iptables-legacy-restore and iptables-nft-restore.
 */
import {
  endpointChainName,
  isServiceChainName,
  joinHostPort,
  protoLower,
  servicePortChainName,
  servicePortName,
} from './hash.ts';
import { computeProbability, predictReadBack } from './probability.ts';
import type {
  EndpointRule,
  IptablesFlavor,
  JumpMode,
  KubeProxyEndpoint,
  KubeProxyIptablesInput,
  KubeProxyIptablesResult,
  KubeProxyService,
  KubeProxyServicePort,
  ServicePortChains,
  ServiceType,
} from './types.ts';

// ---------------------------------------------------------------------------------------------
// Constants (names and comments exactly as kube-proxy / kubelet write them)
// ---------------------------------------------------------------------------------------------

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_MARK_DROP = 'KUBE-MARK-DROP';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

export const NODEPORTS_COMMENT = 'kubernetes service nodeports; NOTE: this must be the last rule in this chain';
const DEFAULT_STICKY_SECONDS = 10800;
const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

type Table = 'filter' | 'nat';

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

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

type Part = string | readonly string[];

function line(...parts: Part[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') out.push(p);
    else out.push(...p);
  }
  return out.join(' ');
}

/** kube-proxy writes multi-word comments pre-quoted: fmt.Sprintf(`"%s cluster IP"`, …). */
function q(s: string): string {
  return `"${s}"`;
}

function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** Go `fmt.Sprintf("%#08x", v)`: 8 zero-padded hex digits *after* the 0x prefix → "0x00004000". */
export function formatMark(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

/** kube-proxy's masquerade mark for --iptables-masquerade-bit (default 14 → "0x00004000"). */
export function masqueradeMarkForBit(bit = 14): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new RangeError(`mark bit out of range: ${bit}`);
  return formatMark(2 ** bit);
}

function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, lenText] = cidr.trim().split('/');
  const baseInt = ipv4ToInt(base ?? '');
  const ipInt = ipv4ToInt(ip);
  const len = lenText === undefined ? 32 : Number(lenText);
  if (baseInt === undefined || ipInt === undefined || !Number.isInteger(len) || len < 0 || len > 32) return false;
  if (len === 0) return true;
  const mask = (0xffffffff << (32 - len)) >>> 0;
  return ((baseInt & mask) >>> 0) === ((ipInt & mask) >>> 0);
}

function isLoopback(ip: string): boolean {
  return cidrContains('127.0.0.0/8', ip);
}

function inferType(svc: KubeProxyService): ServiceType {
  if (svc.type) return svc.type;
  if ((svc.loadBalancerIPs ?? []).length > 0) return 'LoadBalancer';
  if (svc.ports.some((p) => (p.nodePort ?? 0) > 0)) return 'NodePort';
  return 'ClusterIP';
}

// ---------------------------------------------------------------------------------------------
// Service-port model shared by both flavours
// ---------------------------------------------------------------------------------------------

interface EpInfo {
  ip: string;
  str: string;
  chain: string;
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

interface PortInfo {
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

function buildPortInfos(input: KubeProxyIptablesInput): PortInfo[] {
  const out: PortInfo[] = [];
  for (const svc of input.services) {
    // kube-proxy skips services without a cluster IP (headless) — api.IsServiceIPSet.
    if (!svc.clusterIP || svc.clusterIP === 'None') continue;
    const type = inferType(svc);
    for (const port of svc.ports) {
      const spn = servicePortName(svc.namespace, svc.name, port.name);
      const proto = protoLower(port.protocol) as 'tcp' | 'udp' | 'sctp';
      const byKey = new Map<string, EpInfo>();
      for (const ep of svc.endpoints) {
        const str = joinHostPort(ep.ip, port.targetPort);
        byKey.set(str, endpointInfo(ep, str, spn, proto, input.nodeName));
      }
      // EndpointsMap is sorted by Endpoint.String() (byEndpoint in endpointslicecache.go).
      const endpoints = [...byKey.values()].sort((a, b) => (a.str < b.str ? -1 : a.str > b.str ? 1 : 0));
      const chains = {
        svc: servicePortChainName('KUBE-SVC-', spn, proto),
        svl: servicePortChainName('KUBE-SVL-', spn, proto),
        ext: servicePortChainName('KUBE-EXT-', spn, proto),
        fw: servicePortChainName('KUBE-FW-', spn, proto),
        xlb: servicePortChainName('KUBE-XLB-', spn, proto),
      };
      const info: PortInfo = {
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
        endpoints,
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
      };
      out.push(info);
    }
  }
  return out;
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

function endpointRules(eps: readonly EpInfo[]): EndpointRule[] {
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

// ---------------------------------------------------------------------------------------------
// Payload assembly
// ---------------------------------------------------------------------------------------------

interface Buffers {
  filterChains: string[];
  filterRules: string[];
  natChains: string[];
  natRules: string[];
}

interface Options {
  flavor: IptablesFlavor;
  masqueradeMark: string;
  masqueradeAll: boolean;
  clusterCIDR: string | undefined;
  nodeIP: string | undefined;
  localhostNodePorts: boolean;
  nodePortAddresses: string[];
  randomFully: boolean;
  conntrackTCPLiberal: boolean;
  jumps: JumpMode;
  kubelet: boolean;
  dropMark: string;
  canary: boolean;
  existingNatChains: string[];
  largeClusterMode: boolean;
}

function resolveOptions(input: KubeProxyIptablesInput, ports: readonly PortInfo[]): Options {
  const flavor = input.flavor ?? 'ext';
  if (flavor !== 'ext' && flavor !== 'xlb') throw new Error(`unknown flavor ${String(flavor)}`);
  const nodePortAddresses = (input.nodePortAddresses ?? []).filter((a) => a.trim().length > 0);
  // NewProxier: "If the nodePortAddresses doesn't contain loopback, disable localhostNodePorts".
  let localhostNodePorts = input.localhostNodePorts ?? true;
  if (nodePortAddresses.length > 0 && !nodePortAddresses.some(isLoopback)) localhostNodePorts = false;
  const totalEndpoints = ports.reduce((n, p) => n + p.endpoints.length, 0);
  return {
    flavor,
    masqueradeMark: masqueradeMarkForBit(input.masqueradeBit ?? 14),
    masqueradeAll: input.masqueradeAll ?? false,
    clusterCIDR: input.clusterCIDR && input.clusterCIDR.trim() ? input.clusterCIDR.trim() : undefined,
    nodeIP: input.nodeIPs[0],
    localhostNodePorts,
    nodePortAddresses,
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

/** The common KUBE-POSTROUTING / KUBE-MARK-MASQ rules. */
function writeMasqueradeMachinery(b: Buffers, o: Options): void {
  const m = o.masqueradeMark;
  b.natRules.push(line('-A', KUBE_POSTROUTING, '-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN'));
  // Clear the mark to avoid re-masquerading if the packet re-traverses the network stack.
  b.natRules.push(line('-A', KUBE_POSTROUTING, '-j', 'MARK', '--xor-mark', m));
  b.natRules.push(
    line(
      '-A', KUBE_POSTROUTING,
      '-m', 'comment', '--comment', q('kubernetes service traffic requiring SNAT'),
      '-j', 'MASQUERADE',
      o.randomFully ? ['--random-fully'] : [],
    ),
  );
  b.natRules.push(line('-A', KUBE_MARK_MASQ, '-j', 'MARK', '--or-mark', m));
}

function writeStaleChainDeletes(b: Buffers, o: Options, active: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const chain of o.existingNatChains) {
    if (seen.has(chain) || active.has(chain) || !isServiceChainName(chain)) continue;
    seen.add(chain);
    b.natChains.push(chainLine(chain));
    b.natRules.push(line('-X', chain));
  }
}

function writeKubeForward(b: Buffers, o: Options, invalidDrop: boolean): void {
  if (invalidDrop) b.filterRules.push(line('-A', KUBE_FORWARD, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'));
  b.filterRules.push(
    line(
      '-A', KUBE_FORWARD,
      '-m', 'comment', '--comment', q('kubernetes forwarding rules'),
      '-m', 'mark', '--mark', `${o.masqueradeMark}/${o.masqueradeMark}`,
      '-j', 'ACCEPT',
    ),
  );
  b.filterRules.push(
    line(
      '-A', KUBE_FORWARD,
      '-m', 'comment', '--comment', q('kubernetes forwarding conntrack rule'),
      '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED',
      '-j', 'ACCEPT',
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Flavour 'ext' (current proxier)
// ---------------------------------------------------------------------------------------------

function categorizeEndpoints(
  eps: readonly EpInfo[],
  usesCluster: boolean,
  usesLocal: boolean,
): { cluster: EpInfo[]; local: EpInfo[]; all: EpInfo[]; hasAny: boolean } {
  // pkg/proxy/topology.go CategorizeEndpoints (topology hints not modelled).
  let cluster: EpInfo[] = [];
  let local: EpInfo[] = [];
  let hasAny = false;
  let useServingTerminating = false;
  if (usesCluster) {
    cluster = eps.filter((e) => e.ready);
    if (cluster.length === 0) {
      useServingTerminating = true;
      cluster = eps.filter((e) => e.serving && e.terminating);
    }
    if (cluster.length > 0) hasAny = true;
  }
  if (!usesLocal) return { cluster, local, all: cluster, hasAny };
  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const e of eps) {
    if (e.ready) {
      hasAny = true;
      if (e.isLocal) hasLocalReady = true;
    } else if (e.serving && e.terminating) {
      hasAny = true;
      if (e.isLocal) hasLocalServingTerminating = true;
    }
  }
  if (hasLocalReady) {
    local = eps.filter((e) => e.isLocal && e.ready);
  } else if (hasLocalServingTerminating) {
    useServingTerminating = true;
    local = eps.filter((e) => e.isLocal && e.serving && e.terminating);
  }
  if (!usesCluster) return { cluster, local, all: local, hasAny };
  if (!useServingTerminating) return { cluster, local, all: cluster, hasAny };
  const merged = new Map<string, EpInfo>();
  for (const e of cluster) merged.set(e.str, e);
  for (const e of local) merged.set(e.str, e);
  const all = [...merged.values()].sort((a, b) => (a.str < b.str ? -1 : a.str > b.str ? 1 : 0));
  return { cluster, local, all, hasAny };
}

function buildExt(b: Buffers, o: Options, ports: readonly PortInfo[]): Set<string> {
  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL]) {
    b.filterChains.push(chainLine(c));
  }
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) b.natChains.push(chainLine(c));
  writeMasqueradeMachinery(b, o);

  // KUBE-FIREWALL: kube-proxy writes the anti-martian rule when localhost NodePorts are on; kubelet
  // writes the identical rule regardless; the jumps INPUT/OUTPUT → KUBE-FIREWALL need the chain.
  if (o.localhostNodePorts || o.kubelet || o.jumps !== 'none') {
    b.filterChains.push(chainLine(KUBE_FIREWALL));
    if (o.localhostNodePorts || o.kubelet) {
      b.filterRules.push(
        line(
          '-A', KUBE_FIREWALL,
          '-m', 'comment', '--comment', q('block incoming localnet connections'),
          '-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8',
          '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT',
          '-j', 'DROP',
        ),
      );
    }
  }

  const active = new Set<string>();
  const comment = (args: Part[], text: string): Part[] => (o.largeClusterMode ? args : [...args, '-m', 'comment', '--comment', text]);

  for (const p of ports) {
    const { spn, proto } = p;
    const port = String(p.port.port);
    const clusterIP = p.svc.clusterIP;
    const etpLocalRequested = p.svc.externalTrafficPolicy === 'Local';
    const svcExternallyAccessible =
      p.type === 'LoadBalancer' || p.type === 'NodePort' || (p.type === 'ClusterIP' && p.externalIPs.length > 0);
    const externalPolicyLocal = svcExternallyAccessible && etpLocalRequested;
    const internalPolicyLocal = p.svc.internalTrafficPolicy === 'Local';
    const externallyAccessible = p.nodePort !== 0 || p.lbIPs.length > 0 || p.externalIPs.length > 0;
    const usesClusterEndpoints = !internalPolicyLocal || (externallyAccessible && !externalPolicyLocal);
    const usesLocalEndpoints = internalPolicyLocal || (externallyAccessible && externalPolicyLocal);

    const cat = categorizeEndpoints(p.endpoints, usesClusterEndpoints, usesLocalEndpoints);
    const hasEndpoints = cat.hasAny;
    const clusterPolicyChain = p.chains.svc;
    const usesClusterPolicyChain = cat.cluster.length > 0 && usesClusterEndpoints;
    const localPolicyChain = p.chains.svl;
    const usesLocalPolicyChain = cat.local.length > 0 && usesLocalEndpoints;

    let internalPolicyChain = clusterPolicyChain;
    let hasInternalEndpoints = hasEndpoints;
    if (internalPolicyLocal) {
      internalPolicyChain = localPolicyChain;
      if (cat.local.length === 0) hasInternalEndpoints = false;
    }
    const internalTrafficChain = internalPolicyChain;

    let externalPolicyChain = clusterPolicyChain;
    let hasExternalEndpoints = hasEndpoints;
    if (externalPolicyLocal) {
      externalPolicyChain = localPolicyChain;
      if (cat.local.length === 0) hasExternalEndpoints = false;
    }
    const externalTrafficChain = p.chains.ext;
    const usesExternalTrafficChain = hasEndpoints && externallyAccessible;

    let loadBalancerTrafficChain = externalTrafficChain;
    const fwChain = p.chains.fw;
    const usesFWChain = hasEndpoints && p.lbIPs.length > 0 && p.sourceRanges.length > 0;
    if (usesFWChain) loadBalancerTrafficChain = fwChain;

    let internalFilterTarget = '';
    let internalFilterComment = '';
    let externalFilterTarget = '';
    let externalFilterComment = '';
    if (!hasEndpoints) {
      internalFilterTarget = 'REJECT';
      internalFilterComment = q(`${spn} has no endpoints`);
      externalFilterTarget = 'REJECT';
      externalFilterComment = internalFilterComment;
    } else {
      if (!hasInternalEndpoints) {
        internalFilterTarget = 'DROP';
        internalFilterComment = q(`${spn} has no local endpoints`);
      }
      if (!hasExternalEndpoints) {
        externalFilterTarget = 'DROP';
        externalFilterComment = q(`${spn} has no local endpoints`);
      }
    }

    // Capture the clusterIP.
    if (hasInternalEndpoints) {
      b.natRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', q(`${spn} cluster IP`),
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', internalTrafficChain,
        ),
      );
    } else {
      b.filterRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', internalFilterComment,
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', internalFilterTarget,
        ),
      );
    }

    // Capture externalIPs.
    for (const eip of p.externalIPs) {
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} external IP`),
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', externalTrafficChain,
          ),
        );
      }
      if (!hasExternalEndpoints) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture load-balancer ingress.
    for (const lbip of p.lbIPs) {
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', loadBalancerTrafficChain,
          ),
        );
      }
      if (usesFWChain) {
        b.filterRules.push(
          line(
            '-A', KUBE_PROXY_FIREWALL,
            '-m', 'comment', '--comment', q(`${spn} traffic not accepted by ${fwChain}`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', 'DROP',
          ),
        );
      }
    }
    if (!hasExternalEndpoints) {
      for (const lbip of p.lbIPs) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture nodeports.
    if (p.nodePort !== 0) {
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_NODEPORTS,
            '-m', 'comment', '--comment', spn,
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', externalTrafficChain,
          ),
        );
      }
      if (!hasExternalEndpoints) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', 'addrtype', '--dst-type', 'LOCAL',
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture healthCheckNodePorts (only LoadBalancer + Local has one: apiservice.NeedsHealthCheck).
    const hcnp = p.svc.healthCheckNodePort ?? 0;
    if (hcnp !== 0 && p.type === 'LoadBalancer' && externalPolicyLocal) {
      b.filterRules.push(
        line(
          '-A', KUBE_NODEPORTS,
          '-m', 'comment', '--comment', q(`${spn} health check node port`),
          '-m', 'tcp', '-p', 'tcp', '--dport', String(hcnp),
          '-j', 'ACCEPT',
        ),
      );
    }

    // Internal traffic handling: masquerade off-cluster traffic to the cluster IP.
    if (hasInternalEndpoints) {
      const args: Part[] = [
        '-m', 'comment', '--comment', q(`${spn} cluster IP`),
        '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
      ];
      if (o.masqueradeAll) {
        b.natRules.push(line('-A', internalTrafficChain, ...args, '-j', KUBE_MARK_MASQ));
      } else if (o.clusterCIDR) {
        b.natRules.push(line('-A', internalTrafficChain, ...args, '!', '-s', o.clusterCIDR, '-j', KUBE_MARK_MASQ));
      }
    }

    const declared: string[] = [];
    // External traffic handling.
    if (usesExternalTrafficChain) {
      b.natChains.push(chainLine(externalTrafficChain));
      active.add(externalTrafficChain);
      declared.push(externalTrafficChain);
      if (!externalPolicyLocal) {
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`masquerade traffic for ${spn} external destinations`),
            '-j', KUBE_MARK_MASQ,
          ),
        );
      } else {
        if (o.clusterCIDR) {
          b.natRules.push(
            line(
              '-A', externalTrafficChain,
              '-m', 'comment', '--comment', q(`pod traffic for ${spn} external destinations`),
              '-s', o.clusterCIDR,
              '-j', clusterPolicyChain,
            ),
          );
        }
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`masquerade LOCAL traffic for ${spn} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL',
            '-j', KUBE_MARK_MASQ,
          ),
        );
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`route LOCAL traffic for ${spn} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL',
            '-j', clusterPolicyChain,
          ),
        );
      }
      if (hasExternalEndpoints) b.natRules.push(line('-A', externalTrafficChain, '-j', externalPolicyChain));
    }

    // Firewall chain for loadBalancerSourceRanges.
    if (usesFWChain) {
      b.natChains.push(chainLine(fwChain));
      active.add(fwChain);
      declared.push(fwChain);
      const args: Part[] = ['-A', fwChain, '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`)];
      let allowFromNode = false;
      for (const cidr of p.sourceRanges) {
        b.natRules.push(line(...args, '-s', cidr, '-j', externalTrafficChain));
        if (o.nodeIP !== undefined && cidrContains(cidr, o.nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) {
        for (const lbip of p.lbIPs) b.natRules.push(line(...args, '-s', lbip, '-j', externalTrafficChain));
      }
      b.natRules.push(
        line('-A', fwChain, '-m', 'comment', '--comment', q(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)),
      );
    }

    const lbRules = (chain: string, eps: readonly EpInfo[]): void => {
      if (p.stickySeconds !== undefined) {
        for (const ep of eps) {
          b.natRules.push(
            line(
              ...comment(['-A', chain], q(`${spn} -> ${ep.str}`)),
              '-m', 'recent', '--name', ep.chain,
              '--rcheck', '--seconds', String(p.stickySeconds), '--reap',
              '-j', ep.chain,
            ),
          );
        }
      }
      const n = eps.length;
      eps.forEach((ep, i) => {
        const args = comment(['-A', chain], q(`${spn} -> ${ep.str}`));
        const stat = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', computeProbability(n - i)] : [];
        b.natRules.push(line(...args, stat, '-j', ep.chain));
      });
    };

    if (usesClusterPolicyChain) {
      b.natChains.push(chainLine(clusterPolicyChain));
      active.add(clusterPolicyChain);
      declared.push(clusterPolicyChain);
      lbRules(clusterPolicyChain, cat.cluster);
    }
    if (usesLocalPolicyChain) {
      b.natChains.push(chainLine(localPolicyChain));
      active.add(localPolicyChain);
      declared.push(localPolicyChain);
      lbRules(localPolicyChain, cat.local);
    }

    // Per-endpoint chains.
    for (const ep of cat.all) {
      b.natChains.push(chainLine(ep.chain));
      active.add(ep.chain);
      declared.push(ep.chain);
      const args = comment(['-A', ep.chain], spn);
      b.natRules.push(line(...args, '-s', ep.ip, '-j', KUBE_MARK_MASQ));
      const affinity = p.stickySeconds !== undefined ? ['-m', 'recent', '--name', ep.chain, '--set'] : [];
      b.natRules.push(line(...args, affinity, '-m', proto, '-p', proto, '-j', 'DNAT', '--to-destination', ep.str));
    }

    p.report.declaredChains = declared;
    p.report.hasEndpoints = hasEndpoints;
    p.report.clusterEndpoints = usesClusterPolicyChain ? endpointRules(cat.cluster) : [];
    p.report.localEndpoints = usesLocalPolicyChain ? endpointRules(cat.local) : [];
  }

  writeStaleChainDeletes(b, o, active);

  // Finally, tail-call to the nodePorts chain.
  if (o.nodePortAddresses.length === 0) {
    const dest: string[] = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
    if (!o.localhostNodePorts) dest.push('!', '-d', '127.0.0.0/8');
    b.natRules.push(line('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(NODEPORTS_COMMENT), dest, '-j', KUBE_NODEPORTS));
  } else {
    for (const ip of o.nodePortAddresses) {
      if (isLoopback(ip) && !o.localhostNodePorts) continue;
      b.natRules.push(line('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(NODEPORTS_COMMENT), '-d', ip, '-j', KUBE_NODEPORTS));
    }
  }

  writeKubeForward(b, o, !o.conntrackTCPLiberal);
  return active;
}

// ---------------------------------------------------------------------------------------------
// Flavour 'xlb' (kube-proxy 1.23)
// ---------------------------------------------------------------------------------------------

function buildXlb(b: Buffers, o: Options, ports: readonly PortInfo[]): Set<string> {
  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS]) b.filterChains.push(chainLine(c));
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) b.natChains.push(chainLine(c));
  // 1.23 kube-proxy only EnsureChain()s KUBE-MARK-DROP (kubelet fills it); it is declared here so the
  // single payload is self-contained.
  b.natChains.push(chainLine(KUBE_MARK_DROP));
  writeMasqueradeMachinery(b, o);

  if (o.kubelet) {
    // kubelet ≤1.23 (kubelet_network_linux.go syncNetworkUtil).
    b.natRules.push(line('-A', KUBE_MARK_DROP, '-j', 'MARK', '--or-mark', o.dropMark));
    b.filterChains.push(chainLine(KUBE_FIREWALL));
    b.filterRules.push(
      line(
        '-A', KUBE_FIREWALL,
        '-m', 'comment', '--comment', q('kubernetes firewall for dropping marked packets'),
        '-m', 'mark', '--mark', `${o.dropMark}/${o.dropMark}`,
        '-j', 'DROP',
      ),
    );
    b.filterRules.push(
      line(
        '-A', KUBE_FIREWALL,
        '-m', 'comment', '--comment', q('block incoming localnet connections'),
        '--dst', '127.0.0.0/8', '!', '--src', '127.0.0.0/8',
        '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT',
        '-j', 'DROP',
      ),
    );
  }

  const active = new Set<string>();
  const comment = (args: Part[], text: string): Part[] => (o.largeClusterMode ? args : [...args, '-m', 'comment', '--comment', text]);
  const jumpIfNotLocal = (args: Part[], to: string): Part[] =>
    o.clusterCIDR ? [...args, '!', '-s', o.clusterCIDR, '-j', to] : [...args, '-j', to];

  for (const p of ports) {
    const { spn, proto } = p;
    const port = String(p.port.port);
    const clusterIP = p.svc.clusterIP;
    // apiservice.RequestsOnlyLocalTraffic: NodePort/LoadBalancer with externalTrafficPolicy=Local.
    const nodeLocalExternal =
      (p.type === 'NodePort' || p.type === 'LoadBalancer') && p.svc.externalTrafficPolicy === 'Local';
    const nodeLocalInternal = p.svc.internalTrafficPolicy === 'Local';
    // proxy.FilterEndpoints (ServiceInternalTrafficPolicy is beta/on in 1.23; topology hints off).
    const eps = nodeLocalExternal ? p.endpoints : nodeLocalInternal ? p.endpoints.filter((e) => e.isLocal) : p.endpoints;
    const hasEndpoints = eps.some((e) => e.ready);
    const readyEps = eps.filter((e) => e.ready);
    const localEps = nodeLocalExternal ? eps.filter((e) => e.isLocal && e.ready) : [];
    const declared: string[] = [];

    // Per-endpoint chains (written first in 1.23).
    for (const ep of readyEps) {
      b.natChains.push(chainLine(ep.chain));
      active.add(ep.chain);
      declared.push(ep.chain);
      const args = comment(['-A', ep.chain], spn);
      b.natRules.push(line(...args, '-s', ep.ip, '-j', KUBE_MARK_MASQ));
      const affinity = p.stickySeconds !== undefined ? ['-m', 'recent', '--name', ep.chain, '--set'] : [];
      b.natRules.push(line(...args, affinity, '-m', proto, '-p', proto, '-j', 'DNAT', '--to-destination', ep.str));
    }

    const svcChain = p.chains.svc;
    if (hasEndpoints) {
      b.natChains.push(chainLine(svcChain));
      active.add(svcChain);
      declared.push(svcChain);
    }
    const xlbChain = p.chains.xlb;
    if (nodeLocalExternal) {
      b.natChains.push(chainLine(xlbChain));
      active.add(xlbChain);
      declared.push(xlbChain);
    }

    // Capture the clusterIP.
    if (hasEndpoints) {
      const args: Part[] = [
        '-m', 'comment', '--comment', q(`${spn} cluster IP`),
        '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
      ];
      if (o.masqueradeAll) {
        b.natRules.push(line('-A', svcChain, ...args, '-j', KUBE_MARK_MASQ));
      } else if (o.clusterCIDR) {
        b.natRules.push(line('-A', svcChain, ...jumpIfNotLocal(args, KUBE_MARK_MASQ)));
      }
      b.natRules.push(line('-A', KUBE_SERVICES, ...args, '-j', svcChain));
    } else {
      b.filterRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', 'REJECT',
        ),
      );
    }

    // Capture externalIPs.
    for (const eip of p.externalIPs) {
      if (hasEndpoints) {
        const args: Part[] = [
          '-m', 'comment', '--comment', q(`${spn} external IP`),
          '-m', proto, '-p', proto, '-d', eip, '--dport', port,
        ];
        let destChain = xlbChain;
        if (!nodeLocalExternal) {
          destChain = svcChain;
          b.natRules.push(line('-A', svcChain, ...jumpIfNotLocal(args, KUBE_MARK_MASQ)));
        }
        b.natRules.push(line('-A', KUBE_SERVICES, ...args, '-j', destChain));
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', 'REJECT',
          ),
        );
      }
    }

    // Capture load-balancer ingress.
    const fwChain = p.chains.fw;
    for (const lbip of p.lbIPs) {
      if (hasEndpoints) {
        if (!active.has(fwChain)) {
          b.natChains.push(chainLine(fwChain));
          active.add(fwChain);
          declared.push(fwChain);
        }
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', fwChain,
          ),
        );
        const args: Part[] = ['-A', fwChain, '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`)];
        let chosen = xlbChain;
        if (!nodeLocalExternal) {
          b.natRules.push(line(...args, '-j', KUBE_MARK_MASQ));
          chosen = svcChain;
        }
        if (p.sourceRanges.length === 0) {
          b.natRules.push(line(...args, '-j', chosen));
        } else {
          let allowFromNode = false;
          for (const src of p.sourceRanges) {
            b.natRules.push(line(...args, '-s', src, '-j', chosen));
            if (o.nodeIP !== undefined && cidrContains(src, o.nodeIP)) allowFromNode = true;
          }
          if (allowFromNode) b.natRules.push(line(...args, '-s', lbip, '-j', chosen));
        }
        b.natRules.push(line(...args, '-j', KUBE_MARK_DROP));
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', 'REJECT',
          ),
        );
      }
    }

    // Capture nodeports (nodeAddresses is never empty: default is the zero CIDR).
    if (p.nodePort !== 0) {
      if (hasEndpoints) {
        const args: Part[] = [
          '-m', 'comment', '--comment', spn,
          '-m', proto, '-p', proto, '--dport', String(p.nodePort),
        ];
        if (!nodeLocalExternal) {
          b.natRules.push(line('-A', svcChain, ...args, '-j', KUBE_MARK_MASQ));
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-j', svcChain));
        } else {
          // Fix localhost martian source error.
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-s', '127.0.0.0/8', '-j', KUBE_MARK_MASQ));
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-j', xlbChain));
        }
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', 'addrtype', '--dst-type', 'LOCAL',
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', 'REJECT',
          ),
        );
      }
    }

    const hcnp = p.svc.healthCheckNodePort ?? 0;
    if (hcnp !== 0 && p.type === 'LoadBalancer' && nodeLocalExternal) {
      b.filterRules.push(
        line(
          '-A', KUBE_NODEPORTS,
          '-m', 'comment', '--comment', q(`${spn} health check node port`),
          '-m', 'tcp', '-p', 'tcp', '--dport', String(hcnp),
          '-j', 'ACCEPT',
        ),
      );
    }

    p.report.declaredChains = declared;
    p.report.hasEndpoints = hasEndpoints;
    if (!hasEndpoints) continue;

    const lbRules = (chain: string, chainEps: readonly EpInfo[]): void => {
      if (p.stickySeconds !== undefined) {
        for (const ep of chainEps) {
          b.natRules.push(
            line(
              ...comment(['-A', chain], spn),
              '-m', 'recent', '--name', ep.chain,
              '--rcheck', '--seconds', String(p.stickySeconds), '--reap',
              '-j', ep.chain,
            ),
          );
        }
      }
      const n = chainEps.length;
      chainEps.forEach((ep, i) => {
        const stat = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', computeProbability(n - i)] : [];
        b.natRules.push(line(...comment(['-A', chain], spn), stat, '-j', ep.chain));
      });
    };

    lbRules(svcChain, readyEps);
    p.report.clusterEndpoints = endpointRules(readyEps);
    if (!nodeLocalExternal) continue;

    if (o.clusterCIDR) {
      b.natRules.push(
        line(
          '-A', xlbChain,
          '-m', 'comment', '--comment', q('Redirect pods trying to reach external loadbalancer VIP to clusterIP'),
          '-s', o.clusterCIDR, '-j', svcChain,
        ),
      );
    }
    b.natRules.push(
      line(
        '-A', xlbChain,
        '-m', 'comment', '--comment', q(`masquerade LOCAL traffic for ${spn} LB IP`),
        '-m', 'addrtype', '--src-type', 'LOCAL', '-j', KUBE_MARK_MASQ,
      ),
    );
    b.natRules.push(
      line(
        '-A', xlbChain,
        '-m', 'comment', '--comment', q(`route LOCAL traffic for ${spn} LB IP to service chain`),
        '-m', 'addrtype', '--src-type', 'LOCAL', '-j', svcChain,
      ),
    );
    if (localEps.length === 0) {
      b.natRules.push(line('-A', xlbChain, '-m', 'comment', '--comment', q(`${spn} has no local endpoints`), '-j', KUBE_MARK_DROP));
    } else {
      lbRules(xlbChain, localEps);
      p.report.localEndpoints = endpointRules(localEps);
    }
  }

  writeStaleChainDeletes(b, o, active);

  // Finally, tail-call to the nodeports chain.
  if (o.nodePortAddresses.length === 0) {
    b.natRules.push(
      line('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(NODEPORTS_COMMENT), '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', KUBE_NODEPORTS),
    );
  } else {
    for (const ip of o.nodePortAddresses) {
      b.natRules.push(line('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(NODEPORTS_COMMENT), '-d', ip, '-j', KUBE_NODEPORTS));
    }
  }

  writeKubeForward(b, o, true);
  return active;
}

// ---------------------------------------------------------------------------------------------
// Built-in chain jumps
// ---------------------------------------------------------------------------------------------

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

function jumpLines(table: Table, o: Options): string[] {
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

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

function chainNameOf(chainDecl: string): string {
  return chainDecl.slice(1, chainDecl.indexOf(' '));
}

/** Builds the payload and a description of the chains it uses. Pure. */
export function buildKubeProxyIptables(input: KubeProxyIptablesInput): KubeProxyIptablesResult {
  const ports = buildPortInfos(input);
  const o = resolveOptions(input, ports);
  const b: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };
  if (o.flavor === 'ext') buildExt(b, o, ports);
  else buildXlb(b, o, ports);

  if (o.canary) {
    b.filterChains.push(chainLine(KUBE_PROXY_CANARY));
    b.natChains.push(chainLine(KUBE_PROXY_CANARY));
  }

  const out: string[] = [];
  out.push('*filter', ...b.filterChains, ...jumpLines('filter', o), ...b.filterRules, 'COMMIT');
  out.push('*nat', ...b.natChains, ...jumpLines('nat', o), ...b.natRules, 'COMMIT');
  const mangle: string[] = [];
  if (o.canary) {
    mangle.push(KUBE_PROXY_CANARY);
    out.push('*mangle', chainLine(KUBE_PROXY_CANARY), 'COMMIT');
  }
  return {
    payload: out.join('\n') + '\n',
    chains: {
      filter: b.filterChains.map(chainNameOf),
      nat: b.natChains.map(chainNameOf),
      mangle,
    },
    servicePorts: ports.map((p) => p.report),
    masqueradeMark: o.masqueradeMark,
  };
}

/** The complete `iptables-restore` input for one node (see {@link buildKubeProxyIptables}). */
export function buildIptablesRestore(input: KubeProxyIptablesInput): string {
  return buildKubeProxyIptables(input).payload;
}
