// What the schema cannot say about a Calico cluster: pod IPs inside their node's block, routers
// that peer with another router, ToRs inside the segment they switch, racks that exist.
import { cidrContains } from '../../net.ts';
import type { PathSeg, SemanticContext } from '../types.ts';

export function validateCalico(s: SemanticContext): void {
  const c = s.topology.cluster;
  const add = s.add;
  c.pods.forEach((p, i) => {
    const n = s.nodes.get(p.node);
    if (n && !p.eni && n.podCIDR && !cidrContains(n.podCIDR, p.ip)) add(['cluster', 'pods', i, 'ip'], `${p.ip} is not inside node ${n.name}'s podCIDR ${n.podCIDR}`);
  });
  const routers = new Map(c.routers.map((x) => [x.name, x]));
  c.routers.forEach((x, i) => {
    const p: PathSeg[] = ['cluster', 'routers', i];
    x.peers.forEach((peer, j) => {
      if (!routers.has(peer) || peer === x.name) add([...p, 'peers', j], `"${peer}" is not another router`);
    });
    if (x.vswitch) {
      const v = s.vswitches.get(x.vswitch);
      if (!v) add([...p, 'vswitch'], `unknown vswitch "${x.vswitch}"`);
      else if (!cidrContains(v.cidr, x.ip)) add([...p, 'ip'], `${x.ip} is not inside vswitch ${v.name} (${v.cidr}): a top-of-rack router peers from the rack's segment`);
      const other = c.routers.findIndex((y, k) => k < i && y.vswitch === x.vswitch);
      if (other >= 0) add([...p, 'vswitch'], `vswitch ${x.vswitch} is already switched by router ${c.routers[other]!.name}`);
    }
    if (x.vswitch !== undefined || c.nodes.some((n) => n.rack === x.name)) return;
    if (x.peers.length === 0 && !c.routers.some((y) => y.peers.includes(x.name))) add(p, `router ${x.name} peers with nobody`);
  });
  c.nodes.forEach((n, i) => {
    if (!n.rack) return;
    const r = routers.get(n.rack);
    if (!r) add(['cluster', 'nodes', i, 'rack'], `unknown router "${n.rack}"`);
    else if (r.vswitch && r.vswitch !== n.enis[0]!.vswitch) add(['cluster', 'nodes', i, 'rack'], `router ${r.name} switches ${r.vswitch}, but ${n.name}'s primary ENI is on ${n.enis[0]!.vswitch}`);
  });
}
