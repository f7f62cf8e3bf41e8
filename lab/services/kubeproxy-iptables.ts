// kube-proxy, iptables mode (shared/notes/domain.md §2): the topology's services and endpoints,
// as one node's kube-proxy sees them, handed to the pure payload builder (./iptables/), whose
// output is exactly what kube-proxy (plus kubelet's KUBE-FIREWALL jumps) writes. One
// iptables-restore per node. serviceProxy.version picks the release reproduced (iptables/release.ts):
// the KUBE-EXT/KUBE-SVL layout since 1.24, KUBE-XLB before, the pre-1.19 chain names.
import type { BuildContext } from '../context.ts';
import type { Cluster, ClusterNode, Service } from '../model.ts';
import { endpointPods } from './endpoints.ts';
import { buildKubeProxyIptables, releaseFeatures } from './iptables/index.ts';
import type { KubeProxyIptablesInput, KubeProxyIptablesResult, KubeProxyService } from './iptables/index.ts';
import type { ServiceProxy } from './types.ts';

/** A topology service as kube-proxy's Service + EndpointSlice objects (flattened). */
export function toKubeProxyService(cluster: Cluster, svc: Service): KubeProxyService {
  return {
    namespace: svc.namespace,
    name: svc.name,
    clusterIP: svc.clusterIP,
    externalIPs: svc.externalIPs,
    externalTrafficPolicy: svc.externalTrafficPolicy,
    ports: svc.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, targetPort: p.targetPort, nodePort: p.nodePort })),
    endpoints: endpointPods(cluster, svc).map((pod) => ({ ip: pod.ip, nodeName: pod.node })),
  };
}

/** What kube-proxy on `node` is configured with (--hostname-override, node IPs, --cluster-cidr…). */
export function kubeProxyInput(cluster: Cluster, node: ClusterNode): KubeProxyIptablesInput {
  const sp = cluster.serviceProxy;
  return {
    nodeName: node.name,
    nodeIPs: [node.ip],
    clusterCIDR: sp.clusterCIDR,
    masqueradeAll: sp.masqueradeAll,
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
    b.feature('iptables');
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
