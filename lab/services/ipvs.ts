// kube-proxy, IPVS mode, as pkg/proxy/ipvs/proxier.go writes it (see shared/notes/domain.md §3):
// a dummy kube-ipvs0 (left DOWN) holding every VIP as /32, NAT ("Masq") virtual servers with
// rr scheduling, the ipsets, and the nat rules that mark for masquerade — the rules that make a
// Cluster-policy ExternalIP lose the client IP. One ipset restore, one iptables-restore and one
// ipvsadm -R per node.
import type { BuildContext } from '../context.ts';
import type { ClusterNode } from '../model.ts';
import type { ServiceProxy } from './types.ts';
import { endpointPods, externalEndpoints, portBackends } from './endpoints.ts';
import { masqueradeMarkForBit, releaseFeatures } from './iptables/index.ts';
import { masqueradeRules } from './iptables/writers.ts';

// kube-proxy formats the mark with %#08x: "0x00004000" for the default bit 14.
const MASQ_MARK = masqueradeMarkForBit(14);

export interface IpvsNodeTables {
  ipset: string;
  iptables: string;
  ipvsadm: string;
  vips: string[];
}

function proto(p: string): string {
  return p.toLowerCase();
}

/** The three payloads for one node. Pure: unit-tested without a kernel. */
export function ipvsTablesForNode(ctx: Pick<BuildContext, 'cluster'>, node: ClusterNode): IpvsNodeTables {
  const c = ctx.cluster;
  const nodeAddrs = new Set([node.ip]);
  const sets: Record<string, { type: string; entries: string[] }> = {
    'KUBE-CLUSTER-IP': { type: 'hash:ip,port', entries: [] },
    'KUBE-EXTERNAL-IP': { type: 'hash:ip,port', entries: [] },
    'KUBE-EXTERNAL-IP-LOCAL': { type: 'hash:ip,port', entries: [] },
    'KUBE-LOOP-BACK': { type: 'hash:ip,port,ip', entries: [] },
    'KUBE-NODE-PORT-TCP': { type: 'bitmap:port', entries: [] },
    'KUBE-NODE-PORT-LOCAL-TCP': { type: 'bitmap:port', entries: [] },
    'KUBE-LOAD-BALANCER': { type: 'hash:ip,port', entries: [] },
    'KUBE-LOAD-BALANCER-LOCAL': { type: 'hash:ip,port', entries: [] },
  };
  const vs: string[] = [];
  const vips: string[] = [];
  // ipvsadm's service kinds; ClientIP affinity is a persistent service with the affinity timeout
  // (kube-proxy's ipvs proxier: FlagPersistent, Timeout = StickyMaxAgeSeconds).
  const addVs = (vip: string, port: number, p: string, backends: { ip: string; port: number }[], sticky?: number) => {
    const flag = p === 'udp' ? '-u' : p === 'sctp' ? '--sctp-service' : '-t';
    vs.push(`-A ${flag} ${vip}:${port} -s rr${sticky !== undefined ? ` -p ${sticky}` : ''}`);
    for (const bk of backends) vs.push(`-a ${flag} ${vip}:${port} -r ${bk.ip}:${bk.port} -m -w 1`);
  };
  for (const svc of c.services) {
    const all = endpointPods(c, svc);
    for (const sp of svc.ports) {
      const p = proto(sp.protocol);
      sets['KUBE-CLUSTER-IP']!.entries.push(`${svc.clusterIP},${p}:${sp.port}`);
      const sticky = svc.sessionAffinityTimeout;
      addVs(svc.clusterIP, sp.port, p, portBackends(all, sp), sticky);
      if (!vips.includes(svc.clusterIP)) vips.push(svc.clusterIP);
      for (const e of portBackends(all.filter((x) => x.node === node.name), sp)) {
        sets['KUBE-LOOP-BACK']!.entries.push(`${e.ip},${p}:${e.port},${e.ip}`);
      }
      for (const eip of svc.externalIPs) {
        const set = svc.externalTrafficPolicy === 'Local' ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP';
        sets[set]!.entries.push(`${eip},${p}:${sp.port}`);
        addVs(eip, sp.port, p, portBackends(externalEndpoints(c, svc, node.name), sp), sticky);
        // Bound to kube-ipvs0 unless the address already belongs to the node (shouldBind).
        if (!nodeAddrs.has(eip) && !vips.includes(eip)) vips.push(eip);
      }
      if (sp.nodePort && p === 'tcp') {
        sets[svc.externalTrafficPolicy === 'Local' ? 'KUBE-NODE-PORT-LOCAL-TCP' : 'KUBE-NODE-PORT-TCP']!.entries.push(String(sp.nodePort));
        for (const addr of nodeAddrs) addVs(addr, sp.nodePort, p, portBackends(externalEndpoints(c, svc, node.name), sp), sticky);
      }
      // Load-balancer ingress IPs: bound to kube-ipvs0 like external IPs, in KUBE-LOAD-BALANCER
      // (masqueraded) or, under the Local policy, also in KUBE-LOAD-BALANCER-LOCAL (kept).
      // loadBalancerSourceRanges and healthCheckNodePort are not modelled in IPVS mode.
      for (const lb of svc.loadBalancerIPs) {
        sets['KUBE-LOAD-BALANCER']!.entries.push(`${lb},${p}:${sp.port}`);
        if (svc.externalTrafficPolicy === 'Local') sets['KUBE-LOAD-BALANCER-LOCAL']!.entries.push(`${lb},${p}:${sp.port}`);
        addVs(lb, sp.port, p, portBackends(externalEndpoints(c, svc, node.name), sp), sticky);
        if (!nodeAddrs.has(lb) && !vips.includes(lb)) vips.push(lb);
      }
    }
  }
  const ipset = Object.entries(sets).flatMap(([name, s]) => [
    s.type === 'bitmap:port' ? `create ${name} ${s.type} range 0-65535` : `create ${name} ${s.type} family inet hashsize 1024 maxelem 65536`,
    ...[...new Set(s.entries)].map((e) => `add ${name} ${e}`),
  ]).join('\n') + '\n';

  const cidr = c.serviceProxy.clusterCIDR;
  const clusterIpMasq = c.serviceProxy.masqueradeAll
    ? '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'
    : cidr
      ? `-A KUBE-SERVICES ! -s ${cidr} -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ`
      : '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ';
  const extAccept = (set: string, comment: string) => [
    `-A KUBE-SERVICES -m comment --comment "${comment}" -m set --match-set ${set} dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`,
    `-A KUBE-SERVICES -m comment --comment "${comment}" -m set --match-set ${set} dst,dst -m addrtype --dst-type LOCAL -j ACCEPT`,
  ];
  const nat = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-NODE-PORT - [0:0]', ':KUBE-LOAD-BALANCER - [0:0]',
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    // The IPVS proxier writes the same masquerade machinery as the iptables one, by release (PR 92035
    // changed both: https://github.com/kubernetes/kubernetes/pull/92035); no --random-fully here.
    ...masqueradeRules({ masqueradeMark: MASQ_MARK, randomFully: false, release: releaseFeatures(c.serviceProxy.version) }),
    '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN',
    '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN',
    clusterIpMasq,
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ',
    ...extAccept('KUBE-EXTERNAL-IP', 'Kubernetes service external ip + port for masquerade and filter purpose'),
    ...extAccept('KUBE-EXTERNAL-IP-LOCAL', 'Kubernetes service external ip + port with externalTrafficPolicy=local'),
    // kube-proxy writes the load-balancer rules only when KUBE-LOAD-BALANCER has entries.
    ...(sets['KUBE-LOAD-BALANCER']!.entries.length ? [
      '-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER',
      '-A KUBE-LOAD-BALANCER -m comment --comment "Kubernetes service load balancer ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN',
      '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ',
    ] : []),
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
    'COMMIT',
  ];
  return { ipset, iptables: nat.join('\n') + '\n', ipvsadm: vs.join('\n') + '\n', vips };
}

export const ipvs: ServiceProxy = {
  kind: 'ipvs',
  summary: 'kube-proxy IPVS mode: VIPs on the dummy kube-ipvs0, NAT virtual servers, ipsets and masquerade rules',
  build(ctx: BuildContext): void {
    const { b } = ctx;
    b.module('ip_vs', 'ip_vs_rr', 'nf_conntrack', 'nf_nat', 'iptable_nat', 'iptable_filter', 'ip_set', 'ip_set_hash_ipport',
      'ip_set_hash_ipportip', 'ip_set_bitmap_port', 'xt_set', 'xt_mark', 'xt_comment', 'xt_addrtype', 'xt_physdev',
      'xt_MASQUERADE', 'xt_conntrack', 'nf_conntrack_netlink');
    b.feature('ipvs', 'dummy', 'iptables', 'ipset');
    for (const node of ctx.cluster.nodes) {
      const t = ipvsTablesForNode(ctx, node);
      b.dummy(node.name, 'kube-ipvs0');
      b.ip(node.name, ...t.vips.map((v) => `address add ${v}/32 dev kube-ipvs0`));
      // IPVS connections must be tracked by conntrack, or the masquerade rules never see them.
      b.sysctl(node.name, 'net.ipv4.vs.conntrack', 1, true);
      b.sysctl(node.name, 'net.ipv4.vs.expire_nodest_conn', 1, true);
      b.sysctl(node.name, 'net.ipv4.vs.expire_quiescent_template', 1, true);
      b.ipset(node.name, t.ipset);
      b.iptables(node.name, t.iptables);
      b.ipvs(node.name, t.ipvsadm);
    }
  },
};
