// Semantic checks several families share.
import type { SemanticContext } from '../types.ts';

/**
 * Families whose pod IP is a secondary IP of an ENI (ENIIP, IPVLAN, the exclusive ENI): each pod
 * names that ENI (`eni`), and it is not the node's primary ENI (whose address is the node's).
 * The ENI's existence and its vSwitch's range are checked for every family (lab/topology/semantics.ts).
 */
export function requireSecondaryEni(s: SemanticContext, kind: string): void {
  s.topology.cluster.pods.forEach((p, i) => {
    const n = s.nodes.get(p.node);
    if (!n) return; // reported already
    if (!p.eni) {
      s.add(['cluster', 'pods', i], `the ${kind} datapath needs "eni": the secondary ENI that owns the pod IP`);
      return;
    }
  });
  noPodOnPrimaryEni(s);
}

/** A pod that names an ENI names a secondary one: the primary ENI's address is the node's. */
export function noPodOnPrimaryEni(s: SemanticContext): void {
  s.topology.cluster.pods.forEach((p, i) => {
    const n = s.nodes.get(p.node);
    if (p.eni && n?.enis.find((x) => x.name === p.eni)?.primary) s.add(['cluster', 'pods', i, 'eni'], `pods take secondary ENIs; "${p.eni}" is ${n.name}'s primary ENI`);
  });
}
