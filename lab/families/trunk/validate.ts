// What the schema cannot say about a trunk cluster: every pod has a member ENI in a known
// vSwitch, on a node with a trunk ENI, with a VLAN id unique on its node.
import { cidrContains } from '../../net.ts';
import { noPodOnPrimaryEni } from '../shared/validate.ts';
import type { SemanticContext } from '../types.ts';

export function validateTrunk(s: SemanticContext): void {
  const pods = s.topology.cluster.pods;
  noPodOnPrimaryEni(s);
  const vlans = new Map<string, number>();
  pods.forEach((p, i) => {
    const path = ['cluster', 'pods', i];
    const n = s.nodes.get(p.node);
    if (!n) return; // reported already
    if (!p.memberEni) {
      if (!p.eni) s.add(path, 'the trunk datapath needs "memberEni"');
      return;
    }
    const v = s.vswitches.get(p.memberEni.vswitch);
    if (!v) s.add([...path, 'memberEni', 'vswitch'], `unknown vswitch "${p.memberEni.vswitch}"`);
    else if (!cidrContains(v.cidr, p.ip)) s.add([...path, 'ip'], `${p.ip} is not inside member ENI vswitch ${v.name} (${v.cidr})`);
    if (!n.enis.some((e) => e.trunk)) s.add([...path, 'memberEni'], `node ${n.name} has no trunk ENI (set trunk: true on one ENI)`);
    const key = `${p.node}/${p.memberEni.vlan}`;
    if (vlans.has(key)) s.add([...path, 'memberEni', 'vlan'], `VLAN ${p.memberEni.vlan} already used on node ${p.node} by pod ${pods[vlans.get(key)!]!.name}`);
    vlans.set(key, i);
    p.memberEni.securityGroups.forEach((g, k) => {
      if (!s.groups.has(g)) s.add([...path, 'memberEni', 'securityGroups', k], `unknown security group "${g}"`);
    });
  });
}
