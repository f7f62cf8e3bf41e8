// The cloud fabric: vSwitches, the VPC router, SLBs and external clients, each a namespace.
//
// A vSwitch here is a *routed* segment, like the VPC's SDN: it knows which ENI owns which
// address (primary and secondary IPs) and delivers by that mapping — a /32 route and a
// permanent neighbour per owned address on the ENI's port — rather than by MAC learning.
// Its ports all carry Terway's gateway MAC ee:ff:ff:ff:ff:ff and answer ARP (proxy_arp), and
// it holds the gateway address itself. The VPC router joins the vSwitches; the first SLB is
// also the VPC's edge to the "internet" where external clients sit. Fabric links are
// unnumbered: next hops are 169.254.0.x with permanent neighbours, so no lab address ever
// collides with a user's.
import type { BuildContext, EniRecord } from '../context.ts';
import { localMacFor, fitIfname, VPC_GATEWAY_MAC } from '../names.ts';
import type { IfaceDecl } from '../plan.ts';
import { endpointProbability } from '../services/iptables/probability.ts';

export const ROUTER = 'vpc';
const NH_NEAR = '169.254.0.1'; // next hop "towards the router / edge"
const NH_FAR = '169.254.0.2'; // next hop "away from the router"

function routedDefaults(ctx: BuildContext, object: string): void {
  const { b } = ctx;
  for (const k of ['all', 'default']) {
    b.sysctl(object, `net.ipv4.conf.${k}.forwarding`, 1);
    b.sysctl(object, `net.ipv4.conf.${k}.rp_filter`, 0);
  }
  b.sysctl(object, 'net.ipv4.ip_forward', 1);
}

/** Declares the fabric namespaces; call before any datapath attaches an ENI. */
export function declareFabric(ctx: BuildContext): void {
  const { b, cluster } = ctx;
  // A segment switched by a top-of-rack router (routers[].vswitch) is built by lab/families/calico/tor.ts,
  // not by the VPC; without VPC segments or SLBs there is no VPC router at all.
  const vpcSwitches = cluster.vswitches.filter((v) => !cluster.routers.some((r) => r.vswitch === v.name));
  if (vpcSwitches.length || cluster.slbs.length) {
    b.namespace(ROUTER, 'router');
    routedDefaults(ctx, ROUTER);
  }
  for (const v of vpcSwitches) {
    b.namespace(v.name, 'vswitch');
    routedDefaults(ctx, v.name);
    b.sysctl(v.name, 'net.ipv4.conf.default.proxy_arp', 1);
    b.sysctl(v.name, 'net.ipv4.conf.all.proxy_arp', 1);
    const routerSide = fitIfname(v.name);
    const [up, down] = link(ctx, { object: v.name, name: 'uplink' }, { object: ROUTER, name: routerSide });
    b.ip(v.name,
      `address add ${v.gateway}/32 dev lo`,
      `link set uplink up`,
      `neigh replace ${NH_NEAR} lladdr ${down.mac} dev uplink nud permanent`,
      `route add default via ${NH_NEAR} dev uplink onlink`);
    b.ip(ROUTER,
      `link set ${routerSide} up`,
      `neigh replace ${NH_FAR} lladdr ${up.mac} dev ${routerSide} nud permanent`,
      `route add ${v.cidr} via ${NH_FAR} dev ${routerSide} onlink`);
  }
  for (const s of cluster.slbs) {
    b.namespace(s.name, 'slb');
    routedDefaults(ctx, s.name);
  }
  for (const c of cluster.clients) b.namespace(c.name, 'client');
}

function link(ctx: BuildContext, a: { object: string; name: string }, z: { object: string; name: string }): [IfaceDecl, IfaceDecl] {
  return ctx.b.veth(
    { ...a, mac: localMacFor(`${ctx.b.labId}/${a.object}/${a.name}`) },
    { ...z, mac: localMacFor(`${ctx.b.labId}/${z.object}/${z.name}`) },
  );
}

interface EniAttachment {
  node: string;
  /** The namespace holding the ENI when it is not its node's (an exclusive ENI moved into its pod). */
  object?: string;
  name: string;
  vswitch: string;
  mac: string;
  ips: string[];
  kind: EniRecord['kind'];
  securityGroups: string[];
  aliases?: string[];
}

/**
 * Plugs an ENI (a veth from the node, or from the namespace it was moved to) into its vSwitch
 * and teaches the vSwitch its addresses. The vSwitch port is named after the node and `port`
 * (default: the ENI's name there).
 */
export function attachEni(ctx: BuildContext, a: EniAttachment & { port?: string }): EniRecord {
  const { port: portName, object, ...eni } = a;
  const port = fitIfname(`${a.node}-${portName ?? a.name}`);
  const [nodeIf] = ctx.b.veth(
    { object: object ?? a.node, name: a.name, mac: a.mac, aliases: a.aliases },
    { object: a.vswitch, name: port, mac: VPC_GATEWAY_MAC },
  );
  ctx.b.ip(a.vswitch, `link set ${port} up`);
  // Answer ARP at once (the default proxy_delay is up to 0.8 s); only per interface in a netns.
  ctx.b.sysctl(a.vswitch, `net.ipv4.neigh.${port}.proxy_delay`, 0, true);
  const rec: EniRecord = { ...eni, port, nodeIf };
  ctx.enis.push(rec);
  for (const ip of a.ips) learnAddress(ctx, rec, ip);
  return rec;
}

/**
 * The VPC learns that `ip` lives behind this ENI (an ENI secondary IP assignment). When the
 * ENI's port sits in another vSwitch's namespace (a member ENI carried by its trunk's
 * vSwitch), the VPC router also routes that /32 to the vSwitch holding the port.
 */
function learnAddress(ctx: BuildContext, eni: EniRecord, ip: string): void {
  if (!eni.ips.includes(ip)) eni.ips.push(ip);
  const ns = eni.portVswitch ?? eni.vswitch;
  ctx.b.ip(ns,
    `route replace ${ip}/32 dev ${eni.port}`,
    `neigh replace ${ip} lladdr ${eni.mac} dev ${eni.port} nud permanent`);
  if (ns !== eni.vswitch) ctx.b.ip(ROUTER, `route replace ${ip}/32 via ${NH_FAR} dev ${fitIfname(ns)} onlink`);
}

/**
 * Member ENI of a trunk: on the vSwitch side, a VLAN sub-interface of the trunk's port, in the
 * trunk's vSwitch namespace. A member ENI may belong to another vSwitch (its addresses come
 * from that vSwitch's CIDR): its port still sits where the trunk's frames arrive, and
 * learnAddress makes the VPC router send its /32 to the trunk's vSwitch (`portVswitch`).
 */
export function attachMemberEni(ctx: BuildContext, trunk: EniRecord, m: { node: string; name: string; vlan: number; vswitch: string; mac: string; ips: string[]; securityGroups: string[]; nodeIf: IfaceDecl; aliases?: string[] }): EniRecord {
  const port = fitIfname(`${trunk.port}.${m.vlan}`, 'v');
  // In the config phase: the trunk's port is created by the node's link batch.
  ctx.b.vlan(trunk.vswitch, trunk.port, m.vlan, trunk.vswitch, port, VPC_GATEWAY_MAC, m.aliases ?? [], 'config');
  ctx.b.ip(trunk.vswitch, `link set ${port} up`);
  ctx.b.sysctl(trunk.vswitch, `net.ipv4.neigh.${port.replace(/\./g, '/')}.proxy_delay`, 0, true);
  const rec: EniRecord = {
    node: m.node, name: m.name, vswitch: m.vswitch, mac: m.mac, ips: [], port, nodeIf: m.nodeIf, kind: 'member', securityGroups: m.securityGroups, vlan: m.vlan,
    portVswitch: m.vswitch !== trunk.vswitch ? trunk.vswitch : undefined,
  };
  ctx.enis.push(rec);
  for (const ip of m.ips) learnAddress(ctx, rec, ip);
  return rec;
}

/** Wires SLBs and clients once every ENI is known. */
export function finishFabric(ctx: BuildContext): void {
  const { b, cluster } = ctx;
  const vpcCidrs = cluster.vswitches.map((v) => v.cidr);
  cluster.slbs.forEach((s, i) => {
    const routerSide = fitIfname(s.name);
    const [slbIf, rIf] = link(ctx, { object: s.name, name: 'vpc' }, { object: ROUTER, name: routerSide });
    b.ip(s.name, 'link set vpc up',
      `neigh replace ${NH_NEAR} lladdr ${rIf.mac} dev vpc nud permanent`,
      ...vpcCidrs.map((c) => `route add ${c} via ${NH_NEAR} dev vpc onlink`));
    b.ip(ROUTER, `link set ${routerSide} up`,
      `neigh replace ${NH_FAR} lladdr ${slbIf.mac} dev ${routerSide} nud permanent`,
      `route add ${s.vip}/32 via ${NH_FAR} dev ${routerSide} onlink`);
    if (i === 0) b.ip(ROUTER, `route add default via ${NH_FAR} dev ${routerSide} onlink`);
    b.iptables(s.name, slbRules(ctx, s, vpcCidrs));
    // -m tcp, -m comment, -j DNAT/SNAT: without their modules the kernel asks for ipt_tcp, ipt_comment, ipt_DNAT.
    b.module('iptable_nat', 'iptable_filter', 'xt_statistic', 'xt_conntrack', 'nf_conntrack', 'nf_nat', 'xt_tcpudp', 'xt_comment', 'xt_nat');
    b.feature('iptables');
  });
  const edge = cluster.slbs[0];
  for (const c of cluster.clients.filter((x) => !x.router)) { // clients of a BGP router: lab/families/calico/tor.ts
    if (!edge) throw new Error(`client ${c.name} needs an SLB: it is the VPC's edge to the internet`);
    const [cIf, eIf] = link(ctx, { object: c.name, name: 'eth0' }, { object: edge.name, name: fitIfname(c.name) });
    b.ip(c.name, `address add ${c.ip}/32 dev eth0`, 'link set eth0 up',
      `neigh replace ${NH_NEAR} lladdr ${eIf.mac} dev eth0 nud permanent`,
      `route add default via ${NH_NEAR} dev eth0 onlink`);
    b.ip(edge.name, `link set ${eIf.name} up`,
      `neigh replace ${NH_FAR} lladdr ${cIf.mac} dev ${eIf.name} nud permanent`,
      `route add ${c.ip}/32 via ${NH_FAR} dev ${eIf.name} onlink`);
  }
}

/**
 * A layer-4 SLB listener: DNAT to a backend ENI address (random choice per connection, kept by
 * conntrack). Sources inside the VPC are also SNATed to the VIP so the reply comes back through
 * the SLB (full NAT, as cloud L4 balancers do for in-VPC clients); internet clients keep their
 * address (the SLB is their route back). A flow whose chosen backend sits behind the very ENI
 * the request came from is dropped: the hairpin a layer-4 SLB cannot serve.
 */
function slbRules(ctx: BuildContext, s: BuildContext['cluster']['slbs'][number], vpcCidrs: string[]): string {
  const chain = `SLB-${s.name.toUpperCase()}`.slice(0, 28);
  const backends = s.backends.map((bk) => {
    const pod = ctx.cluster.pods.find((p) => p.name === bk.pod)!;
    return { ip: pod.ip, port: bk.port, pod: pod.name };
  });
  const nat = [
    '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', `:${chain} - [0:0]`,
    `-A PREROUTING -d ${s.vip}/32 -p tcp -m tcp --dport ${s.port} -m comment --comment "slb ${s.name} listener" -j ${chain}`,
    ...backends.map((bk, i) => {
      const stat = i < backends.length - 1 ? ` -m statistic --mode random --probability ${endpointProbability(i, backends.length)}` : '';
      return `-A ${chain} -p tcp -m comment --comment "backend ${bk.pod}"${stat} -j DNAT --to-destination ${bk.ip}:${bk.port}`;
    }),
    ...vpcCidrs.map((c) => `-A POSTROUTING -s ${c} -m conntrack --ctstate DNAT --ctorigdst ${s.vip}/32 -m comment --comment "full NAT for in-VPC clients" -j SNAT --to-source ${s.vip}`),
    'COMMIT',
  ];
  const filter = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  if (s.dropHairpin) {
    for (const bk of backends) {
      const eni = ctx.enis.find((e) => e.ips.includes(bk.ip));
      if (!eni) continue;
      filter.push(`-A FORWARD -s ${eni.ips.join(',')} -d ${bk.ip}/32 -p tcp -m tcp --dport ${bk.port} -m conntrack --ctstate DNAT -m comment --comment "L4 hairpin: backend ${bk.pod} is behind the client's ENI ${eni.node}/${eni.name}" -j DROP`);
    }
  }
  filter.push('COMMIT');
  return [...nat, ...filter].join('\n') + '\n';
}
