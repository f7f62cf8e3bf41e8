// What the schema cannot say about an exclusive-ENI cluster: every pod names a secondary ENI
// of its node, and no two pods share one (the ENI moves into the pod's namespace).
import { requireSecondaryEni } from '../shared/validate.ts';
import type { SemanticContext } from '../types.ts';

export function validateEni(s: SemanticContext): void {
  requireSecondaryEni(s, 'eni');
  const owner = new Map<string, string>();
  s.topology.cluster.pods.forEach((p, i) => {
    if (!p.eni) return;
    const key = `${p.node}/${p.eni}`;
    const prev = owner.get(key);
    if (prev) s.add(['cluster', 'pods', i, 'eni'], `ENI ${p.eni} of node ${p.node} is already pod ${prev}'s: an exclusive ENI belongs to one pod`);
    else owner.set(key, p.name);
  });
}
