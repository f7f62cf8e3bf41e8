// Terway ENIIP: veth pair + policy routing (Terway plugin/datapath/policy_router_linux.go).
//
// Pod: eth0 with podIP/32, `default via 169.254.1.1 dev eth0 onlink` and a PERMANENT neighbour
// for 169.254.1.1 (Terway sets no proxy_arp). Host: the peer `cali<sha1(ns.pod)[:11]>`, no
// address, `podIP/32 dev cali scope link`, rule 512 `to podIP lookup main`, rule 2048
// `from podIP lookup 1000+ifindex(ENI)`. Secondary ENI: the node IP as /32 and, in its table,
// `default via <vSwitch gateway> dev ethN onlink`.
import type { BuildContext, EniRecord } from '../../context.ts';
import { podsOn, vswitchOf } from '../../context.ts';
import { attachEni } from '../../fabric/vpc.ts';
import { eniRouteTable, macFor } from '../../names.ts';
import type { Family } from '../types.ts';
import { nodeNamespace, podServers, policyRoutedPod, primaryEni } from '../shared/pod-wiring.ts';

export const datapath = {
  kind: 'eniip',
  summary: 'Terway ENIIP: pod veth pair to a host cali, policy routing out of the ENI that owns the pod IP',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    for (const node of cluster.nodes) {
      nodeNamespace(ctx, node);
      primaryEni(ctx, node);
      const pods = podsOn(cluster, node.name);
      const enis = new Map<string, EniRecord>();
      for (const e of node.enis.slice(1)) {
        const v = vswitchOf(cluster, e.vswitch);
        const mine = pods.filter((p) => p.eni === e.name);
        const rec = attachEni(ctx, {
          node: node.name, name: e.name, vswitch: e.vswitch, mac: e.mac ?? macFor(`${node.name}/${e.name}`),
          ips: mine.map((p) => p.ip), kind: 'secondary', securityGroups: e.securityGroups, aliases: mine.map((p) => `eni(${p.name})`),
        });
        enis.set(e.name, rec);
        const table = eniRouteTable(rec.nodeIf.ifindex);
        b.ip(node.name,
          `address add ${node.ip}/32 dev ${e.name}`,
          `link set ${e.name} up`,
          `route add default via ${v.gateway} dev ${e.name} onlink table ${table}`);
      }
      for (const pod of pods) {
        policyRoutedPod(ctx, node, pod, eniRouteTable(enis.get(pod.eni!)!.nodeIf.ifindex));
        podServers(ctx, pod);
      }
    }
  },
} satisfies Pick<Family, 'kind' | 'summary' | 'build'>;
