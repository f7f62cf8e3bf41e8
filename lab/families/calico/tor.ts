// The underlay of Calico's "peered with top-of-rack routers" design (seed 003): every rack's node
// subnet sits behind a top-of-rack router — an L3 switch, i.e. a namespace with a Linux bridge
// that holds the subnet's gateway address and into which the nodes are plugged — and the ToRs
// peer with a core router. Each router namespace runs BIRD 2 (config from ./bgp.ts); pod routes
// are learned over real BGP sessions, never written by the harness.
//
// Router ↔ router links are point-to-point and unnumbered: each end holds its own router address
// as a /32 with the other end's address as peer (`ip addr add A peer B`), so an eBGP neighbour is
// directly connected without a transit subnet. External clients hang off a router the same way
// as off the VPC's edge (169.254.0.x next hops with permanent neighbours); the router originates
// each client's /32 into BGP, which is how the rest of the fabric learns the way back.
import type { BuildContext } from '../../context.ts';
import type { BgpRouter, Client, ClusterNode } from '../../model.ts';
import { fitIfname, localMacFor, macFor } from '../../names.ts';
import { prefixLen } from '../../net.ts';
import type { IfaceDecl } from '../../plan.ts';
import { birdConfigForRouter, type BgpTimers, type RouterPeer } from './bgp/index.ts';

const NH_NEAR = '169.254.0.1'; // client → router
const NH_FAR = '169.254.0.2'; // router → client

/**
 * BGP timers for the lab: Calico's template values (connect delay 1, retry 3, error wait 5,60)
 * would make a cold start take several seconds more; these keep every session's first attempt
 * immediate and its retries fast. Nothing else differs from Calico's rendering.
 */
export const LAB_BGP_TIMERS: BgpTimers = { scanTimeSeconds: 1, connectDelaySeconds: 0, connectRetrySeconds: 1, errorWaitSeconds: [1, 3] };
/** Budget for BGP convergence (every session Established, every route installed) per speaker. */
const BGP_CONVERGENCE_SECONDS = 45;

/** BIRD's control socket for a lab object: short (< 108 bytes), in /run (a tmpfs in UML). */
function birdSocket(ctx: BuildContext, object: string): string {
  return `/run/${ctx.b.ns(object)}.ctl`;
}

/** The ToR a node is plugged into: its `rack`, else the router switching its primary ENI's segment. */
export function torOf(ctx: BuildContext, node: ClusterNode): BgpRouter {
  const rs = ctx.cluster.routers;
  const r = node.rack ? rs.find((x) => x.name === node.rack) : rs.find((x) => x.vswitch === node.enis[0]!.vswitch);
  if (!r) throw new Error(`node ${node.name}: no top-of-rack router (give "rack", or a router with "vswitch: ${node.enis[0]!.vswitch}")`);
  if (!r.vswitch) throw new Error(`router ${r.name} is ${node.name}'s rack but switches no segment (give it "vswitch")`);
  return r;
}

/** Router pairs with a session (peers lists are read as undirected), in declaration order. */
function routerLinks(routers: BgpRouter[]): [BgpRouter, BgpRouter][] {
  const out: [BgpRouter, BgpRouter][] = [];
  routers.forEach((a, i) => routers.slice(i + 1).forEach((z) => {
    if (a.peers.includes(z.name) || z.peers.includes(a.name)) out.push([a, z]);
  }));
  return out;
}

function routedDefaults(ctx: BuildContext, object: string): void {
  for (const k of ['all', 'default']) {
    ctx.b.sysctl(object, `net.ipv4.conf.${k}.forwarding`, 1);
    ctx.b.sysctl(object, `net.ipv4.conf.${k}.rp_filter`, 0);
  }
  ctx.b.sysctl(object, 'net.ipv4.ip_forward', 1);
}

function bridgeName(vswitch: string): string {
  return fitIfname(`br-${vswitch}`, 'br');
}

/** Router namespaces, their bridges, the router ↔ router links and the clients hanging off them. */
export function declareRouters(ctx: BuildContext): void {
  const { b, cluster } = ctx;
  for (const r of cluster.routers) {
    b.namespace(r.name, 'router');
    routedDefaults(ctx, r.name);
    if (!r.vswitch) continue;
    const v = cluster.vswitches.find((x) => x.name === r.vswitch)!;
    const br = bridgeName(v.name);
    b.bridge(r.name, br, localMacFor(`${b.labId}/${r.name}/${br}`), [`rack(${v.name})`]);
    const len = prefixLen(v.cidr);
    b.ip(r.name, `address add ${v.gateway}/${len} dev ${br}`, `link set ${br} up`);
    if (r.ip !== v.gateway) b.ip(r.name, `address add ${r.ip}/${len} dev ${br}`);
  }
  for (const [a, z] of routerLinks(cluster.routers)) {
    const ai = fitIfname(z.name);
    const zi = fitIfname(a.name);
    b.veth(
      { object: a.name, name: ai, mac: localMacFor(`${b.labId}/${a.name}/${ai}`) },
      { object: z.name, name: zi, mac: localMacFor(`${b.labId}/${z.name}/${zi}`) },
    );
    b.ip(a.name, `address add ${a.ip}/32 peer ${z.ip}/32 dev ${ai}`, `link set ${ai} up`);
    b.ip(z.name, `address add ${z.ip}/32 peer ${a.ip}/32 dev ${zi}`, `link set ${zi} up`);
  }
  for (const c of cluster.clients.filter((x) => x.router)) attachClient(ctx, c, c.router!);
}

function attachClient(ctx: BuildContext, c: Client, router: string): void {
  const { b } = ctx;
  const ri = fitIfname(c.name);
  const [cIf, rIf] = b.veth(
    { object: c.name, name: 'eth0', mac: localMacFor(`${b.labId}/${c.name}/eth0`) },
    { object: router, name: ri, mac: localMacFor(`${b.labId}/${router}/${ri}`) },
  );
  b.ip(c.name, `address add ${c.ip}/32 dev eth0`, 'link set eth0 up',
    `neigh replace ${NH_NEAR} lladdr ${rIf.mac} dev eth0 nud permanent`,
    `route add default via ${NH_NEAR} dev eth0 onlink`);
  b.ip(router, `link set ${ri} up`,
    `neigh replace ${NH_FAR} lladdr ${cIf.mac} dev ${ri} nud permanent`,
    `route add ${c.ip}/32 via ${NH_FAR} dev ${ri} onlink`);
}

/**
 * Plugs a node's primary interface into its ToR's bridge: the node gets its address with the
 * segment's mask and a default route to the ToR (the underlay a real rack provides).
 */
export function plugIntoRack(ctx: BuildContext, node: ClusterNode): IfaceDecl {
  const { b, cluster } = ctx;
  const tor = torOf(ctx, node);
  const e = node.enis[0]!;
  const v = cluster.vswitches.find((x) => x.name === tor.vswitch)!;
  const port = fitIfname(`${node.name}-${e.name}`);
  const [nodeIf] = b.veth(
    { object: node.name, name: e.name, mac: e.mac ?? macFor(`${node.name}/${e.name}`), aliases: ['primary'] },
    { object: tor.name, name: port, mac: localMacFor(`${b.labId}/${tor.name}/${port}`), aliases: [`port(${node.name})`] },
  );
  const br = bridgeName(v.name);
  b.ip(tor.name, `link set ${port} master ${br}`, `link set ${port} up`);
  // A packet the ToR routes onto the segment leaves by the bridge, then by one of its ports.
  b.edge({ from: { object: tor.name, name: br, dir: 'Out' }, to: { object: tor.name, name: port, dir: 'Out' } });
  b.ip(node.name,
    `address add ${node.ip}/${prefixLen(v.cidr)} dev ${e.name}`,
    `link set ${e.name} up`,
    `route add default via ${v.gateway} dev ${e.name}`);
  return nodeIf;
}

/**
 * What each router's BIRD is told: its neighbours (rack nodes and linked routers) and originations.
 * Of each session, the side whose BIRD starts first only listens (`passive on`, as Calico's own
 * mesh does one way): the routers start in `cluster.routers` order, then the nodes, so a node or a
 * later router connects at once to a peer that already listens. When both sides connect, the first
 * attempt toward a BIRD not yet started is refused and BIRD waits its `error wait time` (1–3 s)
 * before it takes or makes the next one: measured in the catalogue under UML, a session then took
 * up to 6.3 s to come up (kproxy-ipvs-1) instead of well under 1 s. The nodes' configs stay Calico's.
 */
function routerBirdConfig(ctx: BuildContext, r: BgpRouter): string {
  const { cluster } = ctx;
  const peers: RouterPeer[] = [];
  if (r.vswitch) {
    for (const n of cluster.nodes.filter((x) => torOf(ctx, x).name === r.name)) {
      const as = n.as ?? r.as;
      peers.push({ name: n.name, ip: n.ip, as, rrClient: as === r.as, passive: true, description: `Calico node ${n.name} AS${as}` });
    }
  }
  for (const [a, z] of routerLinks(cluster.routers)) {
    // a comes first in cluster.routers, so its BIRD starts first (startRouterBirds).
    if (a.name === r.name) peers.push({ name: z.name, ip: z.ip, as: z.as, passive: true });
    else if (z.name === r.name) peers.push({ name: a.name, ip: a.ip, as: a.as });
  }
  return birdConfigForRouter({
    name: r.name,
    routerId: r.ip,
    localAs: r.as,
    peers,
    // A ToR announces its rack's subnet (`redistribute connected`), so node addresses —
    // externalIPs, NodePorts — are reachable from behind the core.
    announceConnected: r.vswitch ? [cluster.vswitches.find((v) => v.name === r.vswitch)!.cidr] : [],
    originate: cluster.clients.filter((c) => c.router === r.name).map((c) => `${c.ip}/32`),
    timers: LAB_BGP_TIMERS,
    log: { stderr: true },
  });
}

/** Starts one BIRD (foreground, so the agent owns its pid) with its config written into the job. */
export function startBird(ctx: BuildContext, object: string, config: string, comment: string): void {
  const { b } = ctx;
  const conf = b.file(`bird-${object}.conf`, config);
  b.daemon(object, `bird-${object}`, ['bird', '-f', '-c', conf, '-s', birdSocket(ctx, object), '-P', `@JOB@/out/bird-${object}.pid`], comment);
  b.dump('bird', object);
  b.feature('bgp');
}

export function startRouterBirds(ctx: BuildContext): void {
  for (const r of ctx.cluster.routers) startBird(ctx, r.name, routerBirdConfig(ctx, r), `BIRD of router ${r.name} (AS ${r.as})`);
}

/** Prefixes every BGP speaker must hold once converged: every pod block, rack subnet and client /32. */
function convergedPrefixes(ctx: BuildContext): string[] {
  const { cluster } = ctx;
  return [
    ...cluster.nodes.flatMap((n) => (n.podCIDR ? [n.podCIDR] : [])),
    ...cluster.routers.flatMap((r) => (r.vswitch ? [cluster.vswitches.find((v) => v.name === r.vswitch)!.cidr] : [])),
    ...cluster.clients.filter((c) => c.router).map((c) => `${c.ip}/32`),
  ];
}

/** A bounded wait per BGP speaker (routers and nodes) before any probe runs. */
export function waitForConvergence(ctx: BuildContext, speakers: string[]): void {
  const prefixes = convergedPrefixes(ctx);
  for (const s of speakers) {
    ctx.b.waitBgp(s, birdSocket(ctx, s), BGP_CONVERGENCE_SECONDS, prefixes, `BGP of ${s}: every session Established, ${prefixes.join(' ')} installed`);
  }
}
