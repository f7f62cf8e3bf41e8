// expect.routes: a prefix in a router's BIRD table (learned over BGP from a given peer, or
// absent) and in its kernel table (type, next hop, device, protocol), read right after the probe.
import { birdRouteLines, birdSections } from '../evidence/birdc.ts';
import { parseIpRouteText, type KernelRouteLine } from '../evidence/ip-route.ts';
import { dumpText } from '../evidence/read.ts';
import { parseBirdRoutes } from '../families/calico/bgp/index.ts';
import type { RouteExpect } from '../model.ts';
import { bgpAddress } from './bgp-sessions.ts';
import type { Check, CheckKind, ProbeContext, RefUse } from './types.ts';
import { resolveIfaceRef } from './walk.ts';
import { resolveAddress } from '../topology/refs.ts';

function routeChecks(c: ProbeContext, x: RouteExpect): Check[] {
  const { topo, plan, ev } = c;
  const checks: Check[] = [];
  if (x.learnedFrom || x.absent) {
    const name = `BIRD table of ${x.router}: ${x.prefix}${x.learnedFrom ? ` learned from ${x.learnedFrom}` : ''}`;
    const text = dumpText(ev, plan, c.spec.id, 'bird', x.router);
    if (text === undefined) {
      checks.push({ name, expected: x.absent ? 'no route' : 'a BGP route', observed: 'no birdc dump', passed: false, evidence: [] });
    } else {
      const { routes } = birdSections(text);
      const all = parseBirdRoutes(routes).filter((r) => r.prefix === x.prefix);
      const best = all.find((r) => r.primary) ?? all[0];
      const lines = birdRouteLines(routes, x.prefix);
      if (x.absent) {
        checks.push({ name, expected: 'no route', observed: all.length ? `${all.length} route(s), best from ${best!.protocol}` : 'no route', passed: all.length === 0, evidence: lines });
      } else {
        const peerIp = bgpAddress(topo, x.learnedFrom!);
        const isBgp = !!best && (best.origin !== null || Object.keys(best.attrs).some((k) => k.startsWith('BGP.')));
        const asPath = best?.attrs['BGP.as_path'];
        checks.push({
          name,
          expected: `best route learned over BGP from ${x.learnedFrom} (${peerIp})`,
          observed: best
            ? `best route from protocol ${best.protocol}${best.fromPeer ? `, neighbour ${best.fromPeer}` : ''}${best.via.length ? `, next hop ${best.via.join(', ')}` : ''}${asPath !== undefined ? `, AS path "${asPath}"` : ''}${isBgp ? '' : ' (not a BGP route)'}`
            : 'no route',
          passed: !!best && isBgp && best.fromPeer === peerIp,
          evidence: lines,
        });
      }
    }
  }
  if (wantsKernel(x)) {
    const parts: string[] = [];
    if (x.type) parts.push(x.type);
    if (x.via) parts.push(`via ${x.via}`);
    if (x.dev) parts.push(`dev ${x.dev}`);
    if (x.proto) parts.push(`proto ${x.proto}`);
    const name = `kernel route on ${x.router}: ${x.prefix}${parts.length ? ` ${parts.join(' ')}` : ''}`;
    const text = dumpText(ev, plan, c.spec.id, 'route', x.router);
    if (text === undefined) {
      checks.push({ name, expected: x.absent ? 'no route' : 'route', observed: 'no ip route dump', passed: false, evidence: [] });
      return checks;
    }
    const main = parseIpRouteText(text).filter((r) => r.table === 'main' && r.prefix === x.prefix);
    if (x.absent) {
      checks.push({ name, expected: 'no route', observed: main.length ? main.map((r) => r.raw).join('; ') : 'no route', passed: main.length === 0, evidence: main.map((r) => r.raw) });
      return checks;
    }
    const viaIp = x.via ? resolveAddress(x.via, c.topo).ip : undefined;
    const devs = x.dev ? resolveIfaceRef(plan, `${x.router}:${x.dev}`).map((r) => r.ifname) : undefined;
    const ok = (r: KernelRouteLine) => (!x.type || r.type === x.type) && (!viaIp || r.via === viaIp) && (!devs || devs.includes(r.dev ?? null)) && (!x.proto || r.proto === x.proto);
    const hit = main.find(ok);
    const expected = [x.type ?? 'a route', viaIp ? `via ${viaIp}` : '', devs ? `dev ${devs.join('/')}` : '', x.proto ? `proto ${x.proto}` : ''].filter(Boolean).join(' ');
    checks.push({ name, expected, observed: hit ? hit.raw : main.length ? `only: ${main.map((r) => r.raw).join('; ')}` : 'no route', passed: !!hit, evidence: main.map((r) => r.raw) });
  }
  return checks;
}

const wantsKernel = (x: RouteExpect) => !!(x.via || x.dev || x.type || x.proto || x.absent || !x.learnedFrom);

export const routes: CheckKind = {
  fields: ['routes'],
  references: (e) => (e.routes ?? []).flatMap((x, m): RefUse[] => {
    const rp = ['expect', 'routes', m];
    return [
      { path: [...rp, 'router'], kind: 'bgpSpeaker', ref: x.router },
      ...(x.learnedFrom ? [{ path: [...rp, 'learnedFrom'], kind: 'bgpSpeaker' as const, ref: x.learnedFrom }] : []),
      ...(x.via ? [{ path: [...rp, 'via'], kind: 'address' as const, ref: x.via }] : []),
      ...(x.dev ? [{ path: [...rp, 'dev'], kind: 'iface' as const, ref: `${x.router}:${x.dev}` }] : []),
    ];
  }),
  dumps: (p) => (p.expect.routes ?? []).flatMap((x) => [
    ...(x.learnedFrom || x.absent ? [{ kind: 'bird', object: x.router }] : []),
    ...(wantsKernel(x) ? [{ kind: 'route', object: x.router }] : []),
  ]),
  judgeState: (c) => (c.spec.probe.expect.routes ?? []).flatMap((x) => routeChecks(c, x)),
};
