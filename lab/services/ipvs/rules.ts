// The iptables rules of kube-proxy's IPVS mode, as createAndLinkKubeChain and writeIptablesRules write
// them: chains declared in `iptablesChains` order, the jumps from the built-in chains (`iptablesJumpChain`,
// EnsureRule Prepend), one rule per non-empty set of `ipsetWithIptablesChain`, then the fixed rules.
// https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/proxier.go ; what changed by
// release is in ../iptables/release.ts.
import type { ReleaseFeatures } from '../iptables/release.ts';
import type { JumpMode } from '../iptables/types.ts';
import { line, masqueradeRules, q } from '../iptables/writers.ts';
import {
  KUBE_CLUSTER_IP,
  KUBE_EXTERNAL_IP,
  KUBE_EXTERNAL_IP_LOCAL,
  KUBE_HEALTH_CHECK_NODE_PORT,
  KUBE_IPVS_IPS,
  KUBE_LOAD_BALANCER,
  KUBE_LOAD_BALANCER_FW,
  KUBE_LOAD_BALANCER_LOCAL,
  KUBE_LOAD_BALANCER_SOURCE_CIDR,
  KUBE_LOAD_BALANCER_SOURCE_IP,
  KUBE_LOOP_BACK,
  KUBE_NODE_PORT_LOCAL_SCTP,
  KUBE_NODE_PORT_LOCAL_TCP,
  KUBE_NODE_PORT_LOCAL_UDP,
  KUBE_NODE_PORT_SCTP,
  KUBE_NODE_PORT_TCP,
  KUBE_NODE_PORT_UDP,
  matchType,
  setComment,
  type IpSet,
} from './sets.ts';
import type { NoNodeAccess } from './types.ts';

const SERVICES = 'KUBE-SERVICES';
const POSTROUTING = 'KUBE-POSTROUTING';
const NODE_PORT = 'KUBE-NODE-PORT';
const LOAD_BALANCER = 'KUBE-LOAD-BALANCER';
const MARK_MASQ = 'KUBE-MARK-MASQ';
const FORWARD = 'KUBE-FORWARD';
const PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
const SOURCE_RANGES_FIREWALL = 'KUBE-SOURCE-RANGES-FIREWALL';
const IPVS_FILTER = 'KUBE-IPVS-FILTER';
const IPVS_OUT_FILTER = 'KUBE-IPVS-OUT-FILTER';

type Table = 'nat' | 'filter';

/** `iptablesChains`, the release's. */
export function ipvsChains(release: ReleaseFeatures): { nat: string[]; filter: string[] } {
  return {
    nat: [SERVICES, POSTROUTING, NODE_PORT, LOAD_BALANCER, MARK_MASQ],
    filter: [FORWARD, NODE_PORT, PROXY_FIREWALL, SOURCE_RANGES_FIREWALL,
      ...(release.ipvsFilter ? [IPVS_FILTER] : []), ...(release.ipvsOutFilter ? [IPVS_OUT_FILTER] : [])],
  };
}

/** `iptablesJumpChain` in call order: each is `iptables -I <from> 1 …`. */
function jumpChains(release: ReleaseFeatures): { table: Table; from: string; to: string; comment: string }[] {
  return [
    { table: 'nat', from: 'OUTPUT', to: SERVICES, comment: 'kubernetes service portals' },
    { table: 'nat', from: 'PREROUTING', to: SERVICES, comment: 'kubernetes service portals' },
    { table: 'nat', from: 'POSTROUTING', to: POSTROUTING, comment: 'kubernetes postrouting rules' },
    { table: 'filter', from: 'FORWARD', to: FORWARD, comment: 'kubernetes forwarding rules' },
    { table: 'filter', from: 'INPUT', to: NODE_PORT, comment: 'kubernetes health check rules' },
    { table: 'filter', from: 'INPUT', to: PROXY_FIREWALL, comment: 'kube-proxy firewall rules' },
    { table: 'filter', from: 'FORWARD', to: PROXY_FIREWALL, comment: 'kube-proxy firewall rules' },
    ...(release.ipvsFilter ? [{ table: 'filter' as const, from: 'INPUT', to: IPVS_FILTER, comment: 'kubernetes ipvs access filter' }] : []),
    ...(release.ipvsOutFilter ? [{ table: 'filter' as const, from: 'OUTPUT', to: IPVS_OUT_FILTER, comment: 'kubernetes ipvs access filter' }] : []),
  ];
}

/** `ipsetWithIptablesChain`: set → (table, chain it is matched in, target, match type, -p). */
const SET_RULES: readonly { set: string; table: Table; from: string; to: string; match: string; proto?: string }[] = [
  { set: KUBE_LOOP_BACK, table: 'nat', from: POSTROUTING, to: 'MASQUERADE', match: 'dst,dst,src' },
  { set: KUBE_LOAD_BALANCER, table: 'nat', from: SERVICES, to: LOAD_BALANCER, match: 'dst,dst' },
  { set: KUBE_LOAD_BALANCER_LOCAL, table: 'nat', from: LOAD_BALANCER, to: 'RETURN', match: 'dst,dst' },
  { set: KUBE_NODE_PORT_LOCAL_TCP, table: 'nat', from: NODE_PORT, to: 'RETURN', match: 'dst', proto: 'tcp' },
  { set: KUBE_NODE_PORT_TCP, table: 'nat', from: NODE_PORT, to: MARK_MASQ, match: 'dst', proto: 'tcp' },
  { set: KUBE_NODE_PORT_LOCAL_UDP, table: 'nat', from: NODE_PORT, to: 'RETURN', match: 'dst', proto: 'udp' },
  { set: KUBE_NODE_PORT_UDP, table: 'nat', from: NODE_PORT, to: MARK_MASQ, match: 'dst', proto: 'udp' },
  { set: KUBE_NODE_PORT_LOCAL_SCTP, table: 'nat', from: NODE_PORT, to: 'RETURN', match: 'dst,dst', proto: 'sctp' },
  { set: KUBE_NODE_PORT_SCTP, table: 'nat', from: NODE_PORT, to: MARK_MASQ, match: 'dst,dst', proto: 'sctp' },
  { set: KUBE_LOAD_BALANCER_FW, table: 'filter', from: PROXY_FIREWALL, to: SOURCE_RANGES_FIREWALL, match: 'dst,dst' },
  { set: KUBE_LOAD_BALANCER_SOURCE_CIDR, table: 'filter', from: SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
  { set: KUBE_LOAD_BALANCER_SOURCE_IP, table: 'filter', from: SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
];

export interface RuleOptions {
  release: ReleaseFeatures;
  masqueradeMark: string;
  masqueradeAll: boolean;
  clusterCIDR: string | undefined;
  randomFully: boolean;
  jumps: JumpMode;
  sets: ReadonlyMap<string, IpSet>;
  noNodeAccess: readonly NoNodeAccess[];
}

/** `-m comment --comment "<set's comment>" -m set --match-set <set>` — the match type follows. */
function setMatch(set: IpSet): string[] {
  return ['-m', 'comment', '--comment', setComment(set), '-m', 'set', '--match-set', set.name];
}

function matchSet(set: IpSet, match: string): string[] {
  return [...setMatch(set), match];
}

/** Jumps from the built-in chains, in the JumpMode ('append': their final order after the prepends). */
function jumpLines(table: Table, o: RuleOptions): string[] {
  if (o.jumps === 'none') return [];
  const seq = jumpChains(o.release).filter((j) => j.table === table);
  const args = (j: (typeof seq)[number]) => line('-m', 'comment', '--comment', q(j.comment), '-j', j.to);
  if (o.jumps === 'insert') return seq.map((j) => `-I ${j.from} 1 ${args(j)}`);
  return [...seq].reverse().map((j) => `-A ${j.from} ${args(j)}`);
}

/** externalIPRules: traffic from off the machine, and traffic to an address the node holds. */
function externalAccept(head: string[]): string[] {
  return [
    line(head, '-m', 'physdev', '!', '--physdev-is-in', '-m', 'addrtype', '!', '--src-type', 'LOCAL', '-j', 'ACCEPT'),
    line(head, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'ACCEPT'),
  ];
}

function natRules(o: RuleOptions): string[] {
  const s = (name: string) => o.sets.get(name)!;
  const full = (name: string) => s(name).entries.size > 0;
  const out: string[] = [line('-A', SERVICES, '-s', '127.0.0.0/8', '-j', 'RETURN')];
  for (const r of SET_RULES) {
    if (r.table !== 'nat' || !full(r.set)) continue;
    out.push(line('-A', r.from, r.proto ? ['-p', r.proto] : [], matchSet(s(r.set), r.match), '-j', r.to));
  }
  if (full(KUBE_CLUSTER_IP)) {
    const head = ['-A', SERVICES, ...setMatch(s(KUBE_CLUSTER_IP))];
    if (o.masqueradeAll) out.push(line(head, 'dst,dst', '-j', MARK_MASQ));
    else if (o.clusterCIDR) out.push(line(head, 'dst,dst', '!', '-s', o.clusterCIDR, '-j', MARK_MASQ));
    // No local-traffic detector: masquerade node-originated traffic whose source is a VIP.
    else out.push(line(head, 'src,dst', '-j', MARK_MASQ));
  }
  if (full(KUBE_EXTERNAL_IP)) {
    const head = ['-A', SERVICES, ...matchSet(s(KUBE_EXTERNAL_IP), 'dst,dst')];
    out.push(line(head, '-j', MARK_MASQ), ...externalAccept(head));
  }
  if (full(KUBE_EXTERNAL_IP_LOCAL)) out.push(...externalAccept(['-A', SERVICES, ...matchSet(s(KUBE_EXTERNAL_IP_LOCAL), 'dst,dst')]));
  out.push(line('-A', SERVICES, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', NODE_PORT));
  out.push(line('-A', LOAD_BALANCER, '-j', MARK_MASQ));
  // acceptIPVSTraffic: last in KUBE-SERVICES, so that no later rule keeps IPVS from the packet.
  for (const name of [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER]) {
    if (full(name)) out.push(line('-A', SERVICES, '-m', 'set', '--match-set', name, matchType(s(name)), '-j', 'ACCEPT'));
  }
  out.push(...masqueradeRules(o));
  return out;
}

function filterRules(o: RuleOptions): string[] {
  const s = (name: string) => o.sets.get(name)!;
  const out: string[] = [];
  for (const r of SET_RULES) {
    if (r.table !== 'filter' || s(r.set).entries.size === 0) continue;
    out.push(line('-A', r.from, matchSet(s(r.set), r.match), '-j', r.to));
  }
  out.push(line('-A', SOURCE_RANGES_FIREWALL, '-j', 'DROP'));
  if (o.release.ipvsOutFilter) {
    for (const e of o.noNodeAccess) {
      out.push(line('-A', IPVS_OUT_FILTER, '-s', e.ip, '-m', 'ipvs', '--vaddr', e.ip, '--vproto', e.proto, '--vport', String(e.port), '-j', 'DROP'));
    }
  }
  const mark = `${o.masqueradeMark}/${o.masqueradeMark}`;
  out.push(
    line('-A', FORWARD, '-m', 'comment', '--comment', q('kubernetes forwarding rules'), '-m', 'mark', '--mark', mark, '-j', 'ACCEPT'),
    line('-A', FORWARD, '-m', 'comment', '--comment', q('kubernetes forwarding conntrack rule'), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'),
    line('-A', NODE_PORT, matchSet(s(KUBE_HEALTH_CHECK_NODE_PORT), 'dst'), '-j', 'ACCEPT'),
  );
  if (o.release.ipvsFilter) {
    // A VIP on kube-ipvs0 answers only on its Services' ports (issue 72236).
    for (const name of [KUBE_LOAD_BALANCER, KUBE_CLUSTER_IP, KUBE_EXTERNAL_IP, KUBE_EXTERNAL_IP_LOCAL, KUBE_HEALTH_CHECK_NODE_PORT]) {
      out.push(line('-A', IPVS_FILTER, '-m', 'set', '--match-set', name, matchType(s(name)), '-j', 'RETURN'));
    }
    out.push(line('-A', IPVS_FILTER, '-m', 'conntrack', '--ctstate', 'NEW', '-m', 'set', '--match-set', KUBE_IPVS_IPS, 'dst', '-j', 'REJECT'));
  }
  return out;
}

/** The iptables-restore input: nat, then filter, each with its chains, jumps and rules. */
export function ipvsIptablesRestore(o: RuleOptions): string {
  const chains = ipvsChains(o.release);
  const table = (name: Table, rules: string[]) => [
    `*${name}`,
    ...chains[name].map((c) => `:${c} - [0:0]`),
    ...jumpLines(name, o),
    ...rules,
    'COMMIT',
  ];
  return [...table('nat', natRules(o)), ...table('filter', filterRules(o))].join('\n') + '\n';
}
