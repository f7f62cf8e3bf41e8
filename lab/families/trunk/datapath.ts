// Terway ENI-Trunking: each node has a trunk ENI; each selected pod has its own member ENI (its
// own IP and MAC in the VPC, its own security groups), carried to the node as an 802.1Q VLAN of
// the trunk ENI (shared/notes/domain.md §1.5, article part 5).
//
// trunkMode 'veth' (the article's drawing, default): the member ENI is a VLAN sub-interface
// `eth1.<vid>` of the trunk in the node namespace, with the member's MAC; the pod is joined to
// the host by a cali veth exactly as in ENIIP ("在OS内并无区别", the OS side does not differ):
// the host routes the pod IP to its cali (`podIP/32 dev cali`, rule 512 `to podIP lookup
// main`) and policy routing sends what the pod sends out by its member VLAN (rule 2048 `from
// podIP [iif cali] lookup 1000+ifindex(eth1.<vid>)`, `default via <member vSwitch gateway> dev
// eth1.<vid> onlink` there). Traffic between two pods of the same node therefore stays in the
// host: no security group sees it.
//
// trunkMode 'vlan' (Terway's plugin/driver/vlan): the VLAN sub-interface `<trunk>.<vid>` is
// created in the pod namespace and *is* the pod's eth0, podIP with the member vSwitch's
// prefix, `default via <gateway> dev eth0 onlink`; no veth, no host route. Everything the pod
// sends leaves the node tagged — even to a pod of the same node — and passes the member ENI's
// security group in the VPC. The kube-proxy of the node is out of the pod's reach in this mode
// (Terway pairs it with the in-pod eBPF service translation of the IPVLAN datapath); the lab's
// vlan-mode scenarios use pod addresses only.
//
// On the VPC side (lab/fabric/vpc.ts): the trunk ENI is a veth into its vSwitch; each member ENI
// is a VLAN sub-interface of the trunk's port there (attachMemberEni), owning the member's
// address; a member ENI of another vSwitch is delivered through the trunk's vSwitch.
import type { BuildContext, EniRecord } from '../../context.ts';
import { podsOn, vswitchOf } from '../../context.ts';
import { attachEni, attachMemberEni } from '../../fabric/vpc.ts';
import type { ClusterNode, Pod } from '../../model.ts';
import {
  eniRouteTable, fitIfname, macFor,
} from '../../names.ts';
import { prefixLen } from '../../net.ts';
import { nodeNamespace, podServers, policyRoutedPod, primaryEni } from '../shared/pod-wiring.ts';
import type { Family } from '../types.ts';

/** The node-side name of a member ENI's VLAN: Terway's `<master>.<vid>`, keeping the last 15 bytes. */
function memberVlanName(trunk: string, vid: number): string {
  const n = `${trunk}.${vid}`;
  return n.length > 15 ? n.slice(n.length - 15) : n;
}

function memberMac(pod: Pod): string {
  return pod.memberEni?.mac ?? macFor(`${pod.node}/${pod.name}/member`);
}

function trunkEni(ctx: BuildContext, node: ClusterNode): EniRecord {
  const e = node.enis.find((x) => x.trunk);
  if (!e) throw new Error(`node ${node.name} has no trunk ENI (trunk: true)`);
  const rec = attachEni(ctx, {
    node: node.name, name: e.name, vswitch: e.vswitch, mac: e.mac ?? macFor(`${node.name}/${e.name}`),
    ips: [], kind: 'trunk', securityGroups: e.securityGroups, aliases: ['trunk'],
  });
  // The trunk carries only tagged frames: up, no address (Terway sets only its MTU).
  ctx.b.ip(node.name, `link set ${e.name} up`);
  return rec;
}

/** veth mode: member VLAN on the node, cali veth to the pod, ENIIP-style policy routing. */
function vethPod(ctx: BuildContext, node: ClusterNode, trunk: EniRecord, pod: Pod): void {
  const { b, cluster } = ctx;
  const m = pod.memberEni!;
  const v = vswitchOf(cluster, m.vswitch);
  const vlanIf = memberVlanName(trunk.name, m.vlan);
  const mac = memberMac(pod);
  const nodeIf = b.vlan(node.name, trunk.name, m.vlan, node.name, vlanIf, mac, [`vlan(${pod.name})`, `eni(${pod.name})`]);
  attachMemberEni(ctx, trunk, {
    node: node.name, name: vlanIf, vlan: m.vlan, vswitch: m.vswitch, mac, ips: [pod.ip], securityGroups: m.securityGroups, nodeIf,
    aliases: [`vlan(${pod.name})`, `eni(${pod.name})`],
  });
  const table = eniRouteTable(nodeIf.ifindex);
  b.ip(node.name,
    `address add ${node.ip}/32 dev ${vlanIf}`,
    `link set ${vlanIf} up`,
    `route add default via ${v.gateway} dev ${vlanIf} onlink table ${table}`);

  policyRoutedPod(ctx, node, pod, table);
}

/** vlan mode: the member VLAN is created in the pod namespace and is its eth0. */
function vlanPod(ctx: BuildContext, node: ClusterNode, trunk: EniRecord, pod: Pod): void {
  const { b, cluster } = ctx;
  const m = pod.memberEni!;
  const v = vswitchOf(cluster, m.vswitch);
  const mac = memberMac(pod);
  b.namespace(pod.name, 'pod');
  const nodeIf = b.vlan(node.name, trunk.name, m.vlan, pod.name, 'eth0', mac, [`vlan(${pod.name})`, `eni(${pod.name})`]);
  attachMemberEni(ctx, trunk, {
    node: node.name, name: fitIfname(memberVlanName(trunk.name, m.vlan)), vlan: m.vlan, vswitch: m.vswitch, mac, ips: [pod.ip],
    securityGroups: m.securityGroups, nodeIf, aliases: [`vlan(${pod.name})`, `eni(${pod.name})`],
  });
  b.ip(pod.name,
    `address add ${pod.ip}/${prefixLen(v.cidr)} dev eth0`,
    'link set eth0 up',
    `route add default via ${v.gateway} dev eth0 onlink`);
  // The pod namespace forwards nothing, but a VLAN created after the namespace defaults were
  // written inherits rp_filter from the kernel default: keep replies from the VPC acceptable.
  b.sysctl(pod.name, 'net.ipv4.conf.all.rp_filter', 0);
  b.sysctl(pod.name, 'net.ipv4.conf.default.rp_filter', 0);
}

export const datapath = {
  kind: 'trunk',
  summary: 'Terway ENI-Trunking: a member ENI per pod as an 802.1Q VLAN of the node\'s trunk ENI; cali veth + policy routing (veth) or the VLAN as eth0 (vlan); security groups per ENI',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    const mode = cluster.datapath.trunkMode;
    b.note(`trunk datapath, mode ${mode}: ${mode === 'veth' ? 'member VLAN on the node, cali veth to the pod, policy routing' : 'member VLAN is the pod\'s eth0'}`);
    for (const node of cluster.nodes) {
      nodeNamespace(ctx, node);
      primaryEni(ctx, node);
      const t = trunkEni(ctx, node);
      for (const pod of podsOn(cluster, node.name)) {
        if (!pod.memberEni) throw new Error(`pod ${pod.name}: the trunk datapath needs memberEni`);
        if (mode === 'vlan') vlanPod(ctx, node, t, pod);
        else vethPod(ctx, node, t, pod);
        podServers(ctx, pod);
      }
    }
  },
} satisfies Pick<Family, 'kind' | 'summary' | 'build'>;
