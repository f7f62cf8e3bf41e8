// kube-proxy, iptables mode (shared/notes/domain.md §2): the topology's services and endpoints,
// as one node's kube-proxy sees them, handed to the pure payload builder (./iptables/), whose
// output is exactly what kube-proxy (plus kubelet's KUBE-FIREWALL jumps) writes. One
// iptables-restore per node. serviceProxy.version picks the release reproduced (iptables/release.ts):
// the KUBE-EXT/KUBE-SVL layout since 1.24, KUBE-XLB before, the pre-1.19 chain names.
import type { BuildContext } from '../context.ts';
import type { Cluster, ClusterNode, Service } from '../model.ts';
import { cidrContains } from '../net.ts';
import { endpointPods, targetPortOn } from './endpoints.ts';
import { buildKubeProxyIptables, releaseFeatures } from './iptables/index.ts';
import type { KubeProxyEndpoint, KubeProxyIptablesInput, KubeProxyIptablesResult, KubeProxyService } from './iptables/index.ts';
import type { ServiceProxy } from './types.ts';

/**
 * The endpoints kube-proxy gets for a topology service: the EndpointSlices as they are when the
 * service came from manifests (addresses no modelled pod holds included), else one endpoint per
 * selected pod, its conditions from the pod (an unready pod: not ready; a terminating one: serving
 * while ready), its port per service port by number or by the pod's named port.
 */
export function kubeProxyEndpoints(cluster: Cluster, svc: Service): KubeProxyEndpoint[] {
  if (svc.sliceEndpoints) {
    return svc.sliceEndpoints.map((e) => ({ ip: e.ip, nodeName: e.nodeName ?? '', ready: e.ready, serving: e.serving, terminating: e.terminating, ports: e.ports }));
  }
  return endpointPods(cluster, svc).map((pod) => {
    const ports: Record<string, number> = {};
    for (const sp of svc.ports) {
      const port = targetPortOn(pod, sp);
      if (port !== undefined) ports[sp.name ?? ''] = port;
    }
    return { ip: pod.ip, nodeName: pod.node, ready: pod.ready && !pod.terminating, serving: pod.ready, terminating: pod.terminating, ports };
  });
}

/** The Service fields kube-proxy reads, from a topology service or a manifest's (same names). */
export type KubeProxyServiceFields = Pick<Service, 'namespace' | 'name' | 'type' | 'clusterIP' | 'externalIPs' | 'externalTrafficPolicy'
  | 'internalTrafficPolicy' | 'sessionAffinityTimeout' | 'loadBalancerIPs' | 'loadBalancerSourceRanges' | 'healthCheckNodePort' | 'ports'>;

/** A Service as the payload builder takes it, without its endpoints (the caller knows where they come from). */
export function kubeProxyServiceSpec(svc: KubeProxyServiceFields): Omit<KubeProxyService, 'endpoints'> {
  return {
    namespace: svc.namespace,
    name: svc.name,
    type: svc.type,
    clusterIP: svc.clusterIP,
    externalIPs: svc.externalIPs,
    externalTrafficPolicy: svc.externalTrafficPolicy,
    internalTrafficPolicy: svc.internalTrafficPolicy,
    ...(svc.sessionAffinityTimeout !== undefined ? { sessionAffinity: { clientIP: { timeoutSeconds: svc.sessionAffinityTimeout } } } : {}),
    loadBalancerIPs: svc.loadBalancerIPs,
    loadBalancerSourceRanges: svc.loadBalancerSourceRanges,
    ...(svc.healthCheckNodePort ? { healthCheckNodePort: svc.healthCheckNodePort } : {}),
    ports: svc.ports.map((p) => ({
      ...(p.name ? { name: p.name } : {}), protocol: p.protocol, port: p.port,
      // A named targetPort is resolved per endpoint (the EndpointSlice controller, kubeProxyEndpoints):
      // the endpoints carry the number.
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0,
      ...(p.nodePort ? { nodePort: p.nodePort } : {}),
    })),
  };
}

/** A topology service as kube-proxy's Service + EndpointSlice objects (flattened). */
export function toKubeProxyService(cluster: Cluster, svc: Service): KubeProxyService {
  return { ...kubeProxyServiceSpec(svc), endpoints: kubeProxyEndpoints(cluster, svc) };
}

/**
 * --nodeport-addresses resolved as kube-proxy does: the node's own addresses (its IP, 127.0.0.1)
 * inside the CIDRs. Not modelled: CIDRs holding none of them (kube-proxy then opens no NodePort on
 * the node; here they count as unset, every local address).
 */
function nodePortAddresses(cidrs: readonly string[], node: ClusterNode): string[] {
  return [node.ip, '127.0.0.1'].filter((ip) => cidrs.some((c) => cidrContains(c, ip)));
}

/** What kube-proxy on `node` is configured with (--hostname-override, node IPs, --cluster-cidr…). */
export function kubeProxyInput(cluster: Cluster, node: ClusterNode): KubeProxyIptablesInput {
  const sp = cluster.serviceProxy;
  return {
    nodeName: node.name,
    nodeIPs: [node.ip],
    clusterCIDR: sp.clusterCIDR,
    masqueradeAll: sp.masqueradeAll,
    nodePortAddresses: nodePortAddresses(sp.nodePortAddresses, node),
    version: sp.version,
    services: cluster.services.map((s) => toKubeProxyService(cluster, s)),
  };
}

/** The payload for one node, with the chain names it uses. Pure: unit-tested without a kernel. */
export function kubeProxyTablesForNode(ctx: Pick<BuildContext, 'cluster'>, node: ClusterNode): KubeProxyIptablesResult {
  return buildKubeProxyIptables(kubeProxyInput(ctx.cluster, node));
}

export const iptablesProxy: ServiceProxy = {
  kind: 'iptables',
  summary: 'kube-proxy iptables mode: KUBE-SERVICES → KUBE-SVC/KUBE-EXT → KUBE-SEP (statistic random) → DNAT, KUBE-MARK-MASQ / KUBE-POSTROUTING',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    b.module('nf_conntrack', 'nf_nat', 'iptable_nat', 'iptable_filter', 'iptable_mangle', 'xt_nat', 'xt_tcpudp', 'xt_statistic', 'xt_comment',
      'xt_mark', 'xt_conntrack', 'xt_addrtype', 'xt_MASQUERADE', 'xt_recent', 'ipt_REJECT', 'nf_conntrack_netlink');
    // `-m sctp` for SCTP service ports: only asked for when a service has one (not every kernel has it).
    if (cluster.services.some((s) => s.ports.some((p) => p.protocol === 'SCTP'))) b.module('xt_sctp');
    b.feature('iptables');
    // EndpointSlices taken as they are: an endpoint no modelled pod holds stays in the rules.
    for (const svc of cluster.services) {
      for (const e of svc.sliceEndpoints ?? []) {
        if (!cluster.pods.some((p) => p.ip === e.ip)) b.note(`${svc.namespace}/${svc.name}: endpoint ${e.ip} is held by no modelled pod — kept in kube-proxy's rules, unreachable in this lab`);
      }
    }
    for (const node of cluster.nodes) {
      const t = kubeProxyTablesForNode(ctx, node);
      // kube-proxy sets route_localnet so that NodePorts answer on 127.0.0.1 (with KUBE-FIREWALL's
      // anti-martian rule guarding it); both flavours do.
      b.sysctl(node.name, 'net.ipv4.conf.all.route_localnet', 1);
      b.iptables(node.name, t.payload);
      b.dump('iptables', node.name);
    }
    b.note(`kube-proxy ${cluster.serviceProxy.version} iptables mode (${releaseFeatures(cluster.serviceProxy.version).layout === 'ext' ? 'KUBE-EXT' : 'KUBE-XLB'} layout)${cluster.serviceProxy.clusterCIDR ? `, --cluster-cidr ${cluster.serviceProxy.clusterCIDR}` : ''}`);
  },
};
