// expect.bgpSessions: the BGP sessions of a router (or a Calico node's BIRD) as BIRD reports
// them (birdc show protocols all), with the time they took to converge from the agent's events.
import { birdSections } from '../evidence/birdc.ts';
import { dumpText, nsOf, type Evidence } from '../evidence/read.ts';
import { birdSymbol, calicoGlobalPeerName, calicoMeshPeerName, calicoNodePeerName, parseBirdProtocols } from '../families/calico/bgp/index.ts';
import type { BgpSessionExpect, Topology } from '../model.ts';
import type { Check, CheckKind, ProbeContext, RefUse } from './types.ts';

/** The address a BGP speaker (a node or a router) peers from. */
export function bgpAddress(topo: Topology, object: string): string | undefined {
  return topo.cluster.nodes.find((n) => n.name === object)?.ip ?? topo.cluster.routers.find((r) => r.name === object)?.ip;
}

/** Protocol names a session with `peer` may carry: a router's label, or Calico's Node_/Global_/Mesh_<ip>. */
function peerProtocolNames(topo: Topology, peer: string): string[] {
  const ip = bgpAddress(topo, peer);
  return [birdSymbol(peer), ...(ip ? [calicoNodePeerName(ip), calicoGlobalPeerName(ip), calicoMeshPeerName(ip)] : [])];
}

/** First BIRD start and this speaker's convergence, from the agent's events. */
function convergence(ev: Evidence, ns: string): string | undefined {
  let first: number | undefined;
  let done: number | undefined;
  for (const line of ev.events.split('\n')) {
    const f = line.split('\t');
    if (f[1] === 'daemon-start' && f[2]?.startsWith('bird-')) first = Math.min(first ?? Infinity, Number(f[0]));
    if (f[1] === 'bgp-converged' && f[2] === ns) done = Number(f[0]);
  }
  if (first === undefined || done === undefined) return undefined;
  return `converged ${(done - first).toFixed(2)} s after the first BIRD started`;
}

function bgpSessionChecks(c: ProbeContext, x: BgpSessionExpect): Check {
  const { topo, plan, ev } = c;
  const name = `BGP sessions of ${x.router}${x.peer ? ` with ${x.peer}` : ''}`;
  const text = dumpText(ev, plan, c.spec.id, 'bird', x.router);
  const expected = x.established ? 'Established' : 'not Established';
  if (text === undefined) return { name, expected, observed: 'no birdc dump', passed: false, evidence: [] };
  const { protocols } = birdSections(text);
  const bgp = parseBirdProtocols(protocols).filter((p) => p.proto === 'BGP');
  const names = x.peer ? peerProtocolNames(topo, x.peer) : undefined;
  const sel = names ? bgp.filter((p) => names.includes(p.name)) : bgp;
  const est = (p: (typeof bgp)[number]) => p.state === 'up' && /^Established\b/.test(p.info);
  const lines = protocols.split('\n').filter((l) => /\bBGP\b/.test(l)).map((l) => l.trim());
  const conv = convergence(ev, nsOf(plan, x.router));
  if (!sel.length) return { name, expected, observed: names ? `no BGP protocol named ${names.join(' / ')}` : 'no BGP protocol', passed: false, evidence: lines };
  const allEst = sel.every(est);
  const noneEst = sel.every((p) => !est(p));
  return {
    name,
    expected,
    observed: `${sel.map((p) => `${p.name} ${p.state} ${p.info}`.trim()).join('; ')}${conv ? ` (${conv})` : ''}`,
    passed: x.established ? allEst : noneEst,
    evidence: lines,
  };
}

export const bgpSessions: CheckKind = {
  fields: ['bgpSessions'],
  references: (e) => (e.bgpSessions ?? []).flatMap((x, m): RefUse[] => [
    { path: ['expect', 'bgpSessions', m, 'router'], kind: 'bgpSpeaker', ref: x.router },
    ...(x.peer ? [{ path: ['expect', 'bgpSessions', m, 'peer'], kind: 'bgpSpeaker' as const, ref: x.peer }] : []),
  ]),
  dumps: (p) => (p.expect.bgpSessions ?? []).map((x) => ({ kind: 'bird', object: x.router })),
  judgeState: (c) => (c.spec.probe.expect.bgpSessions ?? []).map((x) => bgpSessionChecks(c, x)),
};
