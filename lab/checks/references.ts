// The references a probe's expectations use, as each check kind declares them, validated
// against the topology. The loader (lab/topology/scenario-refs.ts) calls `expectationIssues` for
// every probe and reports each issue at its file position.
import type { Probe, Topology } from '../model.ts';
import { checkAddressRef, checkIfaceRef } from '../topology/refs.ts';
import { CHECK_KINDS } from './registry.ts';
import type { RefKind } from './types.ts';

export interface RefIssue {
  path: (string | number)[]; // under the probe
  message: string;
}

function problem(kind: RefKind, ref: string, t: Topology): string | undefined {
  const c = t.cluster;
  const node = c.nodes.some((n) => n.name === ref);
  switch (kind) {
    case 'address': return checkAddressRef(ref, t);
    case 'iface': return checkIfaceRef(ref, t);
    case 'node': return node ? undefined : `unknown node "${ref}"`;
    case 'pod': return c.pods.some((p) => p.name === ref) ? undefined : `unknown pod "${ref}"`;
    case 'bgpSpeaker': return node || c.routers.some((r) => r.name === ref) ? undefined : `"${ref}" is not a router or node`;
    case 'securityGroup': return c.securityGroups.some((g) => g.name === ref) ? undefined : `unknown security group "${ref}"`;
    case 'vswitchPort': {
      const e = checkIfaceRef(ref, t);
      if (e) return e;
      return c.vswitches.some((x) => x.name === ref.split(':')[0]) ? undefined
        : `"${ref}" is not a vSwitch port: security groups act at an ENI's port in its vSwitch (VSWITCH:IFNAME, VSWITCH:vlan(POD))`;
    }
  }
}

/** Every reference of the probe's expectations that does not resolve in the topology. */
export function expectationIssues(p: Probe, t: Topology): RefIssue[] {
  const out: RefIssue[] = [];
  for (const k of CHECK_KINDS) {
    for (const use of k.references?.(p.expect) ?? []) {
      const message = problem(use.kind, use.ref, t);
      if (message) out.push({ path: use.path, message });
    }
  }
  return out;
}
