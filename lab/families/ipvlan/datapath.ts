// Terway IPVLAN (article part 4; shared/notes/domain.md §1.4; Terway plugin/datapath/ipvlan_linux.go).
//
// Pod: eth0 is an ipvlan L2 slave of the pod's secondary ENI (created from the node's link
// batch straight into the pod namespace), podIP with the vSwitch prefix, `default via <vSwitch
// gateway> dev eth0 onlink`, `<nodeIP>/32 dev eth0 scope link`, and a PERMANENT neighbour
// nodeIP → the pod's own eth0 MAC. All slaves share the ENI's MAC, so a frame a pod addresses
// to its own MAC is switched inside ipvlan to whichever slave owns the destination address —
// for the node IP that is the host's slave.
//
// Node, per ENI that carries pods: the ENI up without an address (generateENICfgForIPVlan),
// one more L2 slave `ipvl_<ENI ifindex>`, NOARP, `nodeIP/32 scope host`, and
// `podIP/32 dev ipvl_<n> scope link` per local pod (the node → pod path). On the ENI, a clsact
// egress u32 filter (prio 40000, protocol ip, dst ∈ service CIDR) with `tunnel_key unset` →
// `skbedit ptype host` → `mirred ingress redirect dev ipvl_<n>`: service traffic a pod sends
// untranslated is handed to the node's stack (kube-proxy) instead of the VPC. It runs before
// the capture taps, so such a packet is never seen leaving by the ENI: it shows up In on ipvl_<n>.
//
// What follows from ipvlan, with no rule of ours: pod ↔ pod on one ENI never leaves ipvlan;
// on two ENIs of one node it leaves by one ENI and comes back by the other through the
// vSwitch (slaves of different parents do not switch locally); across nodes it never enters
// either node's stack (the ENI is only the ipvlan parent).
import type { BuildContext } from '../../context.ts';
import { podsOn, vswitchOf } from '../../context.ts';
import { attachEni } from '../../fabric/vpc.ts';
import type { ClusterNode, Eni } from '../../model.ts';
import { macFor } from '../../names.ts';
import { prefixLen } from '../../net.ts';
import { nodeNamespace, podServers, primaryEni } from '../shared/pod-wiring.ts';
import type { Family } from '../types.ts';

/** Terway's host slave name: `ipvl_<parent ifindex>` (initSlaveName). */
function hostSlaveName(parentIfindex: number): string {
  return `ipvl_${parentIfindex}`;
}

/** Terway's redirect filter priority on the parent ENI (toU32Filter). */
const IPVLAN_REDIRECT_PRIO = 40000;

/** The MAC an ENI carries (the topology's, else a stable one in Alibaba's OUI). */
function eniMac(node: ClusterNode, eni: Eni): string {
  return eni.mac ?? macFor(`${node.name}/${eni.name}`);
}

/**
 * The tc lines of the parent ENI: clsact and the egress u32 redirect of `cidrs` to the host
 * slave (Terway setupFilters / dstIPRule: match the IPv4 destination at offset 16).
 */
function redirectFilterLines(eni: string, slave: string, cidrs: string[]): string[] {
  return [
    `qdisc add dev ${eni} clsact`,
    ...cidrs.map((c) => `filter add dev ${eni} egress prio ${IPVLAN_REDIRECT_PRIO} protocol ip u32 match ip dst ${c}`
      + ` action tunnel_key unset pipe action skbedit ptype host pipe action mirred ingress redirect dev ${slave}`),
  ];
}

export const datapath = {
  kind: 'ipvlan',
  summary: 'Terway IPVLAN: pod eth0 is an ipvlan L2 slave of its ENI; the node reaches pods through its own slave ipvl_<n>',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    const serviceCidr = cluster.serviceProxy.serviceCIDR;
    b.feature('ipvlan');
    if (!serviceCidr) b.note('ipvlan: no serviceProxy.serviceCIDR, so the ENIs get no service-CIDR redirect filter');
    for (const node of cluster.nodes) {
      nodeNamespace(ctx, node);
      primaryEni(ctx, node);
      const pods = podsOn(cluster, node.name);
      for (const e of node.enis.slice(1)) {
        const v = vswitchOf(cluster, e.vswitch);
        const mine = pods.filter((p) => p.eni === e.name);
        const mac = eniMac(node, e);
        const rec = attachEni(ctx, {
          node: node.name, name: e.name, vswitch: e.vswitch, mac, ips: mine.map((p) => p.ip), kind: 'secondary',
          securityGroups: e.securityGroups, aliases: mine.map((p) => `eni(${p.name})`),
        });
        // The ENI itself: up, no address (Terway's generateENICfgForIPVlan sets only the MTU).
        b.ip(node.name, `link set ${e.name} up`);
        if (!mine.length) continue; // Terway creates the host slave with the ENI's first pod
        for (const pod of mine) b.namespace(pod.name, 'pod');
        const slave = hostSlaveName(rec.nodeIf.ifindex);
        b.ipvlan(node.name, e.name, node.name, slave, 'l2', '', mine.map((p) => `ipvl(${p.name})`));
        // NOARP after up: in L2 mode ipvlan_open() clears IFF_NOARP, so a slave set NOARP while
        // down comes up ARPing (Terway re-applies it at every pod's setup, which catches it).
        b.ip(node.name,
          `link set ${slave} up`,
          `link set ${slave} arp off`,
          `address add ${node.ip}/32 dev ${slave} scope host`,
          ...mine.map((p) => `route add ${p.ip}/32 dev ${slave} scope link`));
        if (serviceCidr) {
          b.tc(node.name, ...redirectFilterLines(e.name, slave, [serviceCidr]));
          b.module('sch_ingress', 'cls_u32', 'act_tunnel_key', 'act_skbedit', 'act_mirred');
          b.feature('clsact');
          // The redirect happens at the ENI's egress hook, before the capture taps: the packet
          // is next seen In on the host slave.
          b.edge({ from: { object: node.name, name: e.name, dir: 'Out' }, to: { object: node.name, name: slave, dir: 'In' } });
        }
        for (const pod of mine) {
          b.ipvlan(node.name, e.name, pod.name, 'eth0', 'l2');
          b.ip(pod.name,
            `address add ${pod.ip}/${prefixLen(v.cidr)} dev eth0`,
            'link set eth0 up',
            `route add default via ${v.gateway} dev eth0 onlink`,
            `route add ${node.ip}/32 dev eth0 scope link`,
            // The slave's MAC is the ENI's: the node IP resolves to the pod's own MAC.
            `neigh replace ${node.ip} lladdr ${mac} dev eth0 nud permanent`);
          podServers(ctx, pod);
        }
      }
    }
  },
} satisfies Pick<Family, 'kind' | 'summary' | 'build'>;
