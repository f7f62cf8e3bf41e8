// The scenarios' references: unique ids, and every name, address and interface a probe or an
// expectation mentions resolves in the topology (./refs.ts).
import type { PathSeg, SemanticContext } from '../families/types.ts';
import { expectationIssues } from '../checks/references.ts';
import { checkAddressRef } from './refs.ts';

export function checkScenarioRefs(s: SemanticContext): void {
  const t = s.topology;
  const c = t.cluster;
  const { add, nodes, pods } = s;
  // Scenarios: unique ids, references that resolve.
  const ids = new Set<string>();
  t.scenarios.forEach((s, i) => {
    if (ids.has(s.id)) add(['scenarios', i, 'id'], `duplicate scenario id "${s.id}"`);
    ids.add(s.id);
    for (const [svc, list] of Object.entries(s.endpoints ?? {})) {
      if (!c.services.some((x) => x.name === svc)) add(['scenarios', i, 'endpoints', svc], `unknown service "${svc}"`);
      list.forEach((pod, k) => { if (!pods.has(pod)) add(['scenarios', i, 'endpoints', svc, k], `unknown pod "${pod}"`); });
    }
    s.probes.forEach((p, j) => {
      const pp: PathSeg[] = ['scenarios', i, 'probes', j];
      const from = p.from;
      if (!nodes.has(from) && !pods.has(from) && !c.clients.some((x) => x.name === from)) add([...pp, 'from'], `"${from}" is not a node, pod or client`);
      const err = checkAddressRef(p.to, t);
      if (err) add([...pp, 'to'], err);
      if (p.backend && !pods.has(p.backend)) add([...pp, 'backend'], `unknown pod "${p.backend}"`);
      // The checksum check reads TCP's pseudo-header sums (lab/checks/checksum.ts): not a datagram's.
      if (p.expect.checksums && p.protocol !== 'tcp') add([...pp, 'expect', 'checksums'], `checksums are checked for TCP probes only (this probe is ${p.protocol})`);
      // Each check kind declares the references its expectations use (lab/checks/references.ts).
      for (const x of expectationIssues(p, t)) add([...pp, ...x.path], x.message);
    });
  });

}
