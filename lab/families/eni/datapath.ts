// Terway exclusive ENI ("ENI" mode): each pod owns a whole ENI, moved into its namespace as its
// eth0, plus a veth to the node for service and node traffic. As Terway's ExclusiveENI driver
// programs it (plugin/datapath/exclusive_eni_linux.go,
// https://github.com/AliyunContainerService/terway/blob/main/plugin/datapath/exclusive_eni_linux.go):
//
// Pod eth0 (the ENI, generateContCfgForExclusiveENI): the pod IP as /32 and
// `default via <vSwitch gateway> dev eth0 onlink`.
// Pod veth1 (generateVeth1Cfg): the pod IP as /32 again, `169.254.1.1 dev veth1 scope link`, a
// PERMANENT neighbour 169.254.1.1 → the host veth's MAC, `<service CIDR> via 169.254.1.1 dev
// veth1 onlink`, `<node IP>/32 via 169.254.1.1 dev veth1`, and `<cidr> via 169.254.1.1 dev veth1
// onlink` for each of Terway's host_stack_cidrs (the option `hostStackCIDRs`).
// Host side (generateHostSlaveCfg): `cali<sha1(ns.pod)[:11]>` (plugin/terway/cni_linux.go,
// VethNameForPod with prefix "cali"), `<pod IP>/32 dev cali scope link`; no policy rule.
// In exclusive-ENI mode terway's policy container adds, instead of a network policy agent,
// `-t nat -A POSTROUTING ! -o lo -j terway-masq` and `-A terway-masq -j MASQUERADE`
// (cmd/terway-cli/policy.go runExclusiveENI → policy/uninstall_policy.sh masq_eni_only): what
// the node forwards for a pod — a service it translated — leaves with the node's address, so the
// reply comes back through the node rather than to the pod's own ENI.
//
// What follows, with no rule of ours: pod ↔ pod traffic (same node or not) leaves by the pod's
// ENI into the VPC and never enters a node's stack; a node reaches its pods through the cali.
import type { BuildContext } from '../../context.ts';
import { podsOn, vswitchOf } from '../../context.ts';
import { attachEni } from '../../fabric/vpc.ts';
import type { ClusterNode, Pod } from '../../model.ts';
import { LINK_GATEWAY, localMacFor, macFor, vethNameForPod } from '../../names.ts';
import { nodeNamespace, podServers, primaryEni } from '../shared/pod-wiring.ts';
import type { Family } from '../types.ts';

/** Terway's in-pod name of the veth to the node (defaultVethForENI). */
export const POD_VETH = 'veth1';

/** The family's own option: Terway's host_stack_cidrs, routed to the node through veth1. */
export function hostStackCidrs(ctx: BuildContext): string[] {
  return (ctx.cluster.datapath.hostStackCIDRs as string[] | undefined) ?? [];
}

/** The pod's ENI, moved into its namespace as eth0: the pod IP /32, default via the gateway. */
function exclusiveEni(ctx: BuildContext, node: ClusterNode, pod: Pod): void {
  const e = node.enis.find((x) => x.name === pod.eni)!;
  const gw = vswitchOf(ctx.cluster, e.vswitch).gateway;
  attachEni(ctx, {
    node: node.name, object: pod.name, name: 'eth0', port: e.name, vswitch: e.vswitch,
    mac: e.mac ?? macFor(`${node.name}/${e.name}`), ips: [pod.ip], kind: 'secondary',
    securityGroups: e.securityGroups, aliases: [`eni(${pod.name})`],
  });
  ctx.b.ip(pod.name,
    `address add ${pod.ip}/32 dev eth0`,
    'link set eth0 up',
    `route add default via ${gw} dev eth0 onlink`);
}

/** veth1 ↔ cali: the pod's way to the node for services, the node IP and host_stack_cidrs. */
function nodeVeth(ctx: BuildContext, node: ClusterNode, pod: Pod): void {
  const { b, cluster } = ctx;
  const cali = vethNameForPod(pod.name, pod.namespace);
  const caliMac = localMacFor(`${b.labId}/${node.name}/${cali}`);
  b.veth(
    { object: node.name, name: cali, mac: caliMac, aliases: [`cali(${pod.name})`] },
    { object: pod.name, name: POD_VETH, mac: localMacFor(`${b.labId}/${pod.name}/${POD_VETH}`) },
  );
  const svc = cluster.serviceProxy.serviceCIDR;
  b.ip(pod.name,
    `address add ${pod.ip}/32 dev ${POD_VETH}`,
    `link set ${POD_VETH} up`,
    `route add ${LINK_GATEWAY} dev ${POD_VETH} scope link`,
    ...(svc ? [`route add ${svc} via ${LINK_GATEWAY} dev ${POD_VETH} onlink`] : []),
    `neigh replace ${LINK_GATEWAY} lladdr ${caliMac} dev ${POD_VETH} nud permanent`,
    `route add ${node.ip}/32 via ${LINK_GATEWAY} dev ${POD_VETH}`,
    ...hostStackCidrs(ctx).map((c) => `route add ${c} via ${LINK_GATEWAY} dev ${POD_VETH} onlink`));
  b.ip(node.name,
    `link set ${cali} up`,
    `route add ${pod.ip}/32 dev ${cali} scope link`);
}

/**
 * terway-masq (masq_eni_only): everything the node sends out, but to lo, is masqueraded. Terway
 * appends its jump (-A) after kube-proxy's prepended KUBE-POSTROUTING; here it is written first
 * (the plan merges both into one nat table in compile order). Both end in MASQUERADE, so the
 * translation a packet gets is the same.
 */
const TERWAY_MASQ = [
  '*nat',
  ':POSTROUTING ACCEPT [0:0]',
  ':terway-masq - [0:0]',
  '-A POSTROUTING ! -o lo -m comment --comment "terway:masq-outgoing" -j terway-masq',
  '-A terway-masq -j MASQUERADE',
  'COMMIT',
].join('\n');

export const datapath = {
  kind: 'eni',
  summary: 'Terway exclusive ENI: the pod\'s ENI is its eth0 (default route to the VPC); veth1 to a host cali carries service, node and host_stack_cidrs traffic; the node masquerades what it forwards',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    if (!cluster.serviceProxy.serviceCIDR) b.note('eni: no serviceProxy.serviceCIDR, so pods have no route to ClusterIPs through veth1');
    for (const node of cluster.nodes) {
      nodeNamespace(ctx, node);
      primaryEni(ctx, node);
      b.iptables(node.name, TERWAY_MASQ);
      b.module('iptable_nat', 'xt_MASQUERADE', 'xt_comment');
      b.feature('iptables');
      const pods = podsOn(cluster, node.name);
      for (const e of node.enis.slice(1)) {
        const pod = pods.find((p) => p.eni === e.name);
        if (pod) continue;
        // An ENI no pod holds stays on the node, up, without an address (Terway's pool).
        attachEni(ctx, { node: node.name, name: e.name, vswitch: e.vswitch, mac: e.mac ?? macFor(`${node.name}/${e.name}`), ips: [], kind: 'secondary', securityGroups: e.securityGroups });
        b.ip(node.name, `link set ${e.name} up`);
      }
      for (const pod of pods) {
        b.namespace(pod.name, 'pod');
        exclusiveEni(ctx, node, pod);
        nodeVeth(ctx, node, pod);
        podServers(ctx, pod);
      }
    }
  },
} satisfies Pick<Family, 'kind' | 'summary' | 'build'>;
