// The validated YAML → the model the compilers take (lab/model.ts), with defaults applied. The
// datapath options' defaults come from the registered families (lab/families/<kind>/index.ts).
import { FAMILIES } from '../families/registry.ts';
import { defaultGateway } from '../net.ts';
import { DEFAULT_KUBE_PROXY_VERSION } from '../services/iptables/release.ts';
import type {
  Cluster, ClusterNode, Expect, Pod, Probe, Protocol, Scenario, Service, SliceEndpoint, Topology, CaptureExpect,
} from '../model.ts';

type Raw = Record<string, unknown>;
export interface RawTopology {
  family: string; title: string; source?: string;
  cluster: Raw & {
    datapath: Raw; serviceProxy?: Raw; vpc: { vswitches: Raw[] }; nodes: (Raw & { enis: Raw[] })[];
    pods?: Raw[]; services?: (Raw & { ports: Raw[] })[]; slbs?: (Raw & { backends: Raw[] })[];
    clients?: Raw[]; securityGroups?: (Raw & { rules: Raw[] })[]; routers?: Raw[];
  };
  scenarios: (Raw & { probes: (Raw & { expect?: Raw })[] })[];
}

/**
 * The cluster's datapath options: every family's defaults (a scenario may switch the kind), then
 * the file's values; the kind defaults to the first registered family.
 */
function datapathOptions(dp: Raw): Cluster['datapath'] {
  const defaults = Object.assign({}, ...FAMILIES.map((f) => f.defaults)) as Record<string, unknown>;
  return { ...defaults, kind: FAMILIES[0]!.kind, ...dp } as Cluster['datapath'];
}

export function toModel(r: RawTopology, file: string): Topology {
  const c = r.cluster;
  const vswitches = c.vpc.vswitches.map((v) => ({
    name: v.name as string, cidr: v.cidr as string, gateway: (v.gateway as string | undefined) ?? defaultGateway(v.cidr as string),
  }));
  const nodes: ClusterNode[] = c.nodes.map((n) => ({
    name: n.name as string,
    ip: (n.enis[0]!.ip as string | undefined) ?? '',
    podCIDR: n.podCIDR as string | undefined,
    as: n.as as number | undefined,
    rack: n.rack as string | undefined,
    enis: n.enis.map((e, i) => ({
      name: e.name as string, vswitch: e.vswitch as string, ip: e.ip as string | undefined, mac: e.mac as string | undefined,
      primary: i === 0, trunk: (e.trunk as boolean | undefined) ?? false, securityGroups: (e.securityGroups as string[] | undefined) ?? [],
    })),
  }));
  const pods: Pod[] = (c.pods ?? []).map((p) => ({
    name: p.name as string, namespace: (p.namespace as string | undefined) ?? 'default', node: p.node as string, ip: p.ip as string,
    eni: p.eni as string | undefined,
    memberEni: p.memberEni ? {
      vlan: (p.memberEni as Raw).vlan as number, vswitch: (p.memberEni as Raw).vswitch as string, mac: (p.memberEni as Raw).mac as string | undefined,
      securityGroups: ((p.memberEni as Raw).securityGroups as string[] | undefined) ?? [],
    } : undefined,
    labels: (p.labels as Record<string, string> | undefined) ?? {},
    listen: (p.listen as number[] | undefined) ?? [],
    listenUdp: (p.listenUdp as number[] | undefined) ?? [],
    listenSctp: (p.listenSctp as number[] | undefined) ?? [],
    namedPorts: (p.namedPorts as Record<string, number> | undefined) ?? {},
    ready: (p.ready as boolean | undefined) ?? true,
    terminating: (p.terminating as boolean | undefined) ?? false,
  }));
  const services: Service[] = (c.services ?? []).map((s) => {
    const selector = (s.selector as Record<string, string> | undefined) ?? {};
    // EndpointSlices (cluster.manifests, merged by lab/kubernetes/merge.ts) replace the selector.
    const slices = s.endpointSlices as SliceEndpoint[] | undefined;
    const endpoints = slices
      ? pods.filter((p) => slices.some((e) => e.ip === p.ip)).map((p) => p.name)
      : Object.keys(selector).length
        ? pods.filter((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v)).map((p) => p.name)
        : [];
    const ports = s.ports.map((p) => ({
      name: p.name as string | undefined, protocol: (p.protocol as Protocol | undefined) ?? 'TCP', port: p.port as number,
      targetPort: (p.targetPort as number | string | undefined) ?? (p.port as number), nodePort: p.nodePort as number | undefined,
    }));
    const ingress = (s.loadBalancerIPs as string[] | undefined) ?? [];
    const affinity = s.sessionAffinity === 'ClientIP';
    const timeout = ((s.sessionAffinityConfig as Raw | undefined)?.clientIP as Raw | undefined)?.timeoutSeconds as number | undefined;
    return {
      name: s.name as string, namespace: (s.namespace as string | undefined) ?? 'default', clusterIP: s.clusterIP as string,
      externalIPs: (s.externalIPs as string[] | undefined) ?? [],
      externalTrafficPolicy: (s.externalTrafficPolicy as 'Cluster' | 'Local' | undefined) ?? 'Cluster',
      internalTrafficPolicy: (s.internalTrafficPolicy as 'Cluster' | 'Local' | undefined) ?? 'Cluster',
      // The apiserver's default: LoadBalancer with ingress IPs, NodePort with a nodePort, else ClusterIP.
      type: (s.type as Service['type'] | undefined) ?? (ingress.length ? 'LoadBalancer' : ports.some((p) => p.nodePort) ? 'NodePort' : 'ClusterIP'),
      loadBalancerIPs: ingress,
      loadBalancerSourceRanges: (s.loadBalancerSourceRanges as string[] | undefined) ?? [],
      healthCheckNodePort: s.healthCheckNodePort as number | undefined,
      // kube-proxy's default for ClientIP without a config: 10800 s (v1.DefaultClientIPServiceAffinitySeconds).
      sessionAffinityTimeout: affinity ? (timeout ?? 10800) : undefined,
      selector, endpoints, ports,
      ...(slices ? { sliceEndpoints: slices } : {}),
    };
  });
  const dp = c.datapath;
  const sp = c.serviceProxy ?? {};
  const cluster: Cluster = {
    datapath: datapathOptions(dp),
    serviceProxy: {
      kind: (sp.kind as Cluster['serviceProxy']['kind'] | undefined) ?? 'ipvs',
      clusterCIDR: sp.clusterCIDR as string | undefined,
      serviceCIDR: sp.serviceCIDR as string | undefined,
      masqueradeAll: (sp.masqueradeAll as boolean | undefined) ?? false,
      localPolicyFallback: (sp.localPolicyFallback as boolean | undefined) ?? false,
      version: (sp.version as string | undefined) ?? DEFAULT_KUBE_PROXY_VERSION,
      nodePortAddresses: (sp.nodePortAddresses as string[] | undefined) ?? [],
      nodePortRange: ((sp.nodePortRange as string | undefined) ?? '30000-32767').split('-').map(Number) as [number, number],
    },
    vswitches, nodes, pods, services,
    slbs: (c.slbs ?? []).map((s) => ({
      name: s.name as string, vip: s.vip as string, port: s.port as number, dropHairpin: (s.dropHairpin as boolean | undefined) ?? true,
      backends: s.backends.map((b) => ({ pod: b.pod as string, port: (b.port as number | undefined) ?? (s.port as number) })),
    })),
    clients: (c.clients ?? []).map((x) => ({ name: x.name as string, ip: x.ip as string, router: x.router as string | undefined })),
    securityGroups: (c.securityGroups ?? []).map((g) => ({
      name: g.name as string,
      rules: g.rules.map((x) => {
        const ports = x.ports as string | undefined;
        const range = ports ? (ports.split('-').map(Number) as [number] | [number, number]) : undefined;
        return {
          direction: x.direction as 'ingress' | 'egress', action: (x.action as 'accept' | 'drop' | undefined) ?? 'accept',
          protocol: (x.protocol as 'tcp' | 'udp' | 'icmp' | 'all' | undefined) ?? 'all',
          ports: range ? [range[0], range[1] ?? range[0]] as [number, number] : undefined,
          peer: x.group ? { group: x.group as string } : { cidr: (x.cidr as string | undefined) ?? '0.0.0.0/0' },
          priority: (x.priority as number | undefined) ?? 1,
        };
      }),
    })),
    routers: (c.routers ?? []).map((x) => ({
      name: x.name as string, as: x.as as number, ip: x.ip as string, peers: (x.peers as string[] | undefined) ?? [],
      vswitch: x.vswitch as string | undefined,
    })),
  };
  const scenarios: Scenario[] = r.scenarios.map((s) => ({
    id: s.id as string, title: s.title as string, story: s.story as string | undefined,
    datapath: (s.datapath as Scenario['datapath'] | undefined) ?? {},
    serviceProxy: (s.serviceProxy as Scenario['serviceProxy'] | undefined) ?? {},
    securityGroupBindings: s.securityGroupBindings as Record<string, string[]> | undefined,
    endpoints: s.endpoints as Record<string, string[]> | undefined,
    probes: s.probes.map((p, i) => toProbe(p, i)),
  }));
  return { file, family: r.family, title: r.title, source: r.source, cluster, scenarios };
}

function toCapture(x: unknown): CaptureExpect {
  return typeof x === 'string' ? { at: x } : (x as CaptureExpect);
}

function toProbe(p: Raw & { expect?: Raw }, i: number): Probe {
  const e = p.expect ?? {};
  const expect: Expect = {
    reachable: e.reachable as boolean | undefined,
    answeredBy: e.answeredBy as string | undefined,
    seen: ((e.seen as unknown[] | undefined) ?? []).map(toCapture),
    notSeen: ((e.notSeen as unknown[] | undefined) ?? []).map(toCapture),
    addressNeverSeen: (e.addressNeverSeen as string[] | undefined) ?? [],
    path: e.path as string[] | undefined,
    stacks: e.stacks as number | undefined,
    conntrack: (e.conntrack as Expect['conntrack'] | undefined) ?? [],
    ipvs: (e.ipvs as Expect['ipvs'] | undefined) ?? [],
    ebpfLb: (e.ebpfLb as Expect['ebpfLb']) ?? [],
    checksums: e.checksums as boolean | undefined,
    serverSees: e.serverSees as Expect['serverSees'],
    droppedBy: e.droppedBy as Expect['droppedBy'],
    admittedBy: (e.admittedBy as Expect['admittedBy'] | undefined) ?? [],
    distribution: e.distribution as Expect['distribution'],
    iptables: ((e.iptables as Raw[] | undefined) ?? []).map((x) => ({
      node: x.node as string, table: (x.table as 'nat' | 'filter' | 'mangle' | 'raw' | undefined) ?? 'nat',
      path: x.path as string[], probabilities: x.probabilities as number[] | undefined,
    })),
    bgpSessions: (e.bgpSessions as Expect['bgpSessions']) ?? [],
    routes: (e.routes as Expect['routes']) ?? [],
    vethPeer: (e.vethPeer as Expect['vethPeer']) ?? [],
  };
  return {
    name: (p.name as string | undefined) ?? `probe ${i + 1}`,
    from: p.from as string, to: p.to as string, port: p.port as number | undefined,
    protocol: (p.protocol as Probe['protocol'] | undefined) ?? 'tcp',
    backend: p.backend as string | undefined,
    attempts: (p.attempts as number | undefined) ?? (p.backend ? 12 : 1),
    timeoutSeconds: (p.timeoutSeconds as number | undefined) ?? 2,
    connections: p.connections as number | undefined,
    expect,
  };
}
