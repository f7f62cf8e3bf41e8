// Calico with BGP, peered with top-of-rack routers (seed 003; shared/notes/domain.md §4).
//
// Pod wiring as Calico's CNI plugin writes it (cni-plugin dataplane_linux.go): the pod's eth0 has
// its address as /32, `169.254.1.1 dev eth0 scope link` and `default via 169.254.1.1 dev eth0`, and
// no static neighbour — 169.254.1.1 is answered by proxy ARP on the host side. The host side is
// `cali<sha1(namespace.pod)[:11]>` with MAC ee:ee:ee:ee:ee:ee and the sysctls Felix writes for a
// workload interface (proxy_arp, proxy_delay 0, forwarding, route_localnet, rp_filter), plus
// `<podIP> dev cali… scope link`.
//
// Each node runs BIRD with Calico's confd rendering (./bgp/): a blackhole for its pod
// block, the block (never a /32 beneath it) exported to its top-of-rack router, routes learned
// from the ToR programmed into the kernel. The ToR and core routers (./tor.ts) run BIRD
// too; the build waits, bounded, until every session is Established and every pod block is
// installed everywhere.
import type { BuildContext } from '../../context.ts';
import { podsOn } from '../../context.ts';
import { birdConfigForNode } from './bgp/index.ts';
import { declareRouters, LAB_BGP_TIMERS, plugIntoRack, startBird, startRouterBirds, torOf, waitForConvergence } from './tor.ts';
import type { ClusterNode, Pod } from '../../model.ts';
import { CALICO_HOST_MAC, LINK_GATEWAY, localMacFor, vethNameForPod } from '../../names.ts';
import { podServers, nodeNamespace } from '../shared/pod-wiring.ts';
import type { Family } from '../types.ts';

/** Felix's per-workload-interface sysctls (felix/dataplane/linux/endpoint_mgr.go configureInterface). */
function felixInterfaceSysctls(cali: string): [string, number][] {
  return [
    [`net.ipv4.conf.${cali}.route_localnet`, 1],
    [`net.ipv4.neigh.${cali}.proxy_delay`, 0],
    [`net.ipv4.conf.${cali}.proxy_arp`, 1],
    [`net.ipv4.conf.${cali}.forwarding`, 1],
    // Felix writes the host's default rp_filter here; the lab's nodes run with 0 (nodeNamespace).
    [`net.ipv4.conf.${cali}.rp_filter`, 0],
  ];
}

/** One workload: the pod namespace, the veth pair and both sides' addresses and routes. */
function wireCalicoPod(ctx: BuildContext, node: ClusterNode, pod: Pod): void {
  const { b } = ctx;
  const cali = vethNameForPod(pod.name, pod.namespace);
  b.namespace(pod.name, 'pod');
  b.veth(
    { object: pod.name, name: 'eth0', mac: localMacFor(`${b.labId}/${pod.name}/eth0`) },
    { object: node.name, name: cali, mac: CALICO_HOST_MAC, aliases: [`cali(${pod.name})`] },
  );
  b.ip(pod.name,
    `address add ${pod.ip}/32 dev eth0`,
    'link set eth0 up',
    `route add ${LINK_GATEWAY} dev eth0 scope link`,
    `route add default via ${LINK_GATEWAY} dev eth0`);
  b.ip(node.name,
    `link set ${cali} up`,
    `route add ${pod.ip}/32 dev ${cali} scope link`);
  for (const [k, v] of felixInterfaceSysctls(cali)) b.sysctl(node.name, k, v, true);
  podServers(ctx, pod);
}

/** The IP pools BIRD knows: the cluster CIDR, else the nodes' blocks themselves. */
function calicoPools(ctx: BuildContext): string[] {
  const cidr = ctx.cluster.serviceProxy.clusterCIDR;
  if (cidr) return [cidr];
  return ctx.cluster.nodes.flatMap((n) => (n.podCIDR ? [n.podCIDR] : []));
}

/** A node's BIRD config: its block, peered with its rack's ToR (node-specific BGPPeer, mesh off). */
function nodeBirdConfig(ctx: BuildContext, node: ClusterNode): string {
  const tor = torOf(ctx, node);
  if (!node.podCIDR) throw new Error(`calico: node ${node.name} needs "podCIDR" (its IPAM block, announced over BGP)`);
  return birdConfigForNode({
    nodeName: node.name,
    nodeIp: node.ip,
    localAs: node.as ?? tor.as,
    blocks: [node.podCIDR],
    pools: calicoPools(ctx),
    nodePeers: [{ name: tor.name, ip: tor.ip, as: tor.as }],
    timers: LAB_BGP_TIMERS,
    log: { stderr: true },
  });
}

export const datapath = {
  kind: 'calico',
  summary: 'Calico BGP: pod veth to a host cali (ee:ee:ee:ee:ee:ee, proxy ARP, /32 route); BIRD announces each node block to its top-of-rack router, which peers with a core router',
  build(ctx: BuildContext): void {
    const { cluster } = ctx;
    declareRouters(ctx);
    for (const node of cluster.nodes) {
      nodeNamespace(ctx, node);
      plugIntoRack(ctx, node);
      for (const pod of podsOn(cluster, node.name)) wireCalicoPod(ctx, node, pod);
    }
    // Routers first: a node's first connection attempt then finds its ToR listening.
    startRouterBirds(ctx);
    for (const node of cluster.nodes) {
      startBird(ctx, node.name, nodeBirdConfig(ctx, node), `calico-node BIRD of ${node.name} (AS ${node.as ?? torOf(ctx, node).as})`);
    }
    waitForConvergence(ctx, [...cluster.routers.map((r) => r.name), ...cluster.nodes.map((n) => n.name)]);
  },
} satisfies Pick<Family, 'kind' | 'summary' | 'build'>;
