// kube-proxy, IPVS mode (shared/notes/domain.md §3), as pkg/proxy/ipvs/proxier.go writes it
// (https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/proxier.go): a dummy kube-ipvs0
// (left DOWN) holding every VIP as /32, NAT ("Masq") virtual servers, the ipsets (./sets.ts), and the
// nat and filter rules that mark for masquerade, filter loadBalancerSourceRanges and guard the VIPs
// (./rules.ts). One ipset restore, one iptables-restore and one ipvsadm -R per node. The node's view of
// the Services and EndpointSlices is iptables mode's (kubeProxyInput); serviceProxy.version picks the
// release (../iptables/release.ts).
import type { BuildContext } from '../../context.ts';
import type { ClusterNode } from '../../model.ts';
import { isIpv4 } from '../../net.ts';
import { masqueradeMarkForBit, isLoopback } from '../iptables/marks.ts';
import { buildPortInfos } from '../iptables/model.ts';
import { releaseFeatures } from '../iptables/release.ts';
import { kubeProxyInput } from '../kubeproxy-iptables.ts';
import type { ServiceProxy } from '../types.ts';
import { ipvsIptablesRestore } from './rules.ts';
import { emptySets, ipsetRestore } from './sets.ts';
import type { IpvsInput, IpvsResult } from './types.ts';
import { finishSets, ipvsadmRestore, nodePortIPs, syncServicePort, type SyncState } from './virtual-servers.ts';

export type { IpvsInput, IpvsResult, VirtualServer, RealServer } from './types.ts';

/** The three payloads of one kube-proxy in IPVS mode. Pure: unit-tested without a kernel. */
export function buildIpvs(input: IpvsInput): IpvsResult {
  const release = releaseFeatures(input.version);
  const nodeAddresses = (input.nodeAddresses ?? input.nodeIPs).filter((a) => isIpv4(a) && !isLoopback(a));
  const o = {
    release,
    scheduler: input.scheduler ?? 'rr',
    nodeIP: input.nodeIPs[0],
    nodeAddresses,
    nodePortIPs: nodePortIPs(nodeAddresses, input.nodePortAddresses ?? []),
    localPolicyFallback: input.localPolicyFallback ?? release.minor >= 21,
  };
  const st: SyncState = { sets: emptySets(release), virtualServers: [], vips: [], noNodeAccess: [] };
  for (const p of buildPortInfos(input, release)) syncServicePort(st, p, o);
  finishSets(st, release);
  const clusterCIDR = input.clusterCIDR?.trim() || undefined;
  return {
    sets: st.sets,
    ipset: ipsetRestore(st.sets),
    iptables: ipvsIptablesRestore({
      release,
      masqueradeMark: masqueradeMarkForBit(input.masqueradeBit ?? 14),
      masqueradeAll: input.masqueradeAll ?? false,
      clusterCIDR,
      randomFully: input.randomFully ?? true,
      jumps: input.jumps ?? 'insert',
      sets: st.sets,
      noNodeAccess: st.noNodeAccess,
    }),
    ipvsadm: ipvsadmRestore(st.virtualServers),
    virtualServers: st.virtualServers,
    vips: st.vips,
    version: release.version,
  };
}

/** One node's payloads from the topology (its services, endpoints and kube-proxy flags). */
export function ipvsTablesForNode(ctx: Pick<BuildContext, 'cluster'>, node: ClusterNode): IpvsResult {
  return buildIpvs({ ...kubeProxyInput(ctx.cluster, node), localPolicyFallback: ctx.cluster.serviceProxy.localPolicyFallback });
}

export const ipvs: ServiceProxy = {
  kind: 'ipvs',
  summary: 'kube-proxy IPVS mode: VIPs on the dummy kube-ipvs0, NAT virtual servers, ipsets, masquerade and filter rules',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    b.module('ip_vs', 'ip_vs_rr', 'nf_conntrack', 'nf_nat', 'iptable_nat', 'iptable_filter', 'ip_set', 'ip_set_hash_ip', 'ip_set_hash_ipport',
      'ip_set_hash_ipportip', 'ip_set_hash_ipportnet', 'ip_set_bitmap_port', 'xt_set', 'xt_mark', 'xt_comment', 'xt_addrtype', 'xt_physdev',
      'xt_MASQUERADE', 'xt_conntrack', 'ipt_REJECT', 'nf_conntrack_netlink',
      // The first `-m physdev` rule makes the kernel ask for br_netfilter (physdev_mt_check,
      // https://elixir.bootlin.com/linux/v6.1/source/net/netfilter/xt_physdev.c).
      'br_netfilter');
    const tables = cluster.nodes.map((node) => ({ node, t: ipvsTablesForNode(ctx, node) }));
    // `-m ipvs` (KUBE-IPVS-OUT-FILTER) only where a rule uses it; SCTP virtual servers need ip_vs's SCTP.
    if (tables.some(({ t }) => t.iptables.includes(' -m ipvs '))) b.module('xt_ipvs');
    b.feature('ipvs', 'dummy', 'iptables', 'ipset');
    for (const { node, t } of tables) {
      b.dummy(node.name, 'kube-ipvs0');
      b.ip(node.name, ...t.vips.map((v) => `address add ${v}/32 dev kube-ipvs0`));
      // IPVS connections must be tracked by conntrack, or the masquerade rules never see them.
      b.sysctl(node.name, 'net.ipv4.vs.conntrack', 1, true);
      b.sysctl(node.name, 'net.ipv4.vs.expire_nodest_conn', 1, true);
      b.sysctl(node.name, 'net.ipv4.vs.expire_quiescent_template', 1, true);
      b.ipset(node.name, t.ipset);
      b.iptables(node.name, t.iptables);
      b.ipvs(node.name, t.ipvsadm);
    }
    b.note(`kube-proxy ${cluster.serviceProxy.version} IPVS mode${cluster.serviceProxy.clusterCIDR ? `, --cluster-cidr ${cluster.serviceProxy.clusterCIDR}` : ''}`);
  },
};
