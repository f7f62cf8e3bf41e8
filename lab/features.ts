// Kernel features, one record each (lab/families/types.ts FeatureRecord): the core ones every
// family may use — netns, veth, bridge, dummy, the service proxies' tables, tc and eBPF — and the
// records each registered family adds. One table feeds the native runner's probe
// (probe-features.sh runs each probe argv), the tool check (tools.ts) and the modules the UML
// guest loads.
import { FAMILIES } from './families/registry.ts';
import type { FeatureRecord } from './families/types.ts';

export const CORE_FEATURES: FeatureRecord[] = [
  { name: 'netns', config: 'CONFIG_NET_NS', modules: [], tools: { ip: 'iproute2' } },
  { name: 'veth', config: 'CONFIG_VETH', modules: ['veth'], probe: ['ip', '-n', '@NS@', 'link', 'add', 't0', 'type', 'veth', 'peer', 'name', 't1'] },
  { name: 'dummy', config: 'CONFIG_DUMMY (module dummy)', modules: ['dummy'], probe: ['ip', '-n', '@NS@', 'link', 'add', 'd0', 'type', 'dummy'] },
  { name: 'bridge', config: 'CONFIG_BRIDGE', modules: ['bridge'], probe: ['ip', '-n', '@NS@', 'link', 'add', 'b0', 'type', 'bridge'] },
  {
    name: 'ipvs', config: 'CONFIG_IP_VS (modules ip_vs, ip_vs_rr)', modules: ['ip_vs', 'ip_vs_rr'],
    probe: ['ip', 'netns', 'exec', '@NS@', 'ipvsadm', '-A', '-t', '10.255.255.1:80', '-s', 'rr'], tools: { ipvsadm: 'ipvsadm' },
  },
  {
    // bpfilter: while it is not loaded, the kernel asks for it at every iptables get/setsockopt
    // (bpfilter_mbox_request, https://elixir.bootlin.com/linux/v6.1/source/net/ipv4/bpfilter/sockopt.c),
    // a usermode-helper modprobe each time it is refused. Loaded, it answers -ENOPROTOOPT and the
    // call goes on to iptables' own sockopts (ip_setsockopt, https://elixir.bootlin.com/linux/v6.1/source/net/ipv4/ip_sockglue.c).
    name: 'iptables', config: 'iptables with CONFIG_IP_NF_NAT and xt_statistic',
    modules: ['nf_conntrack', 'nf_nat', 'iptable_nat', 'iptable_filter', 'xt_statistic', 'bpfilter'],
    probe: ['ip', 'netns', 'exec', '@NS@', '@IPTABLES_RESTORE@', '@FILE:statistic-dnat.rules@'],
    tools: { 'iptables-restore': 'iptables' },
  },
  {
    name: 'ipset', config: 'CONFIG_IP_SET (hash:ip,port)', modules: ['ip_set', 'ip_set_hash_ipport'],
    probe: ['ip', 'netns', 'exec', '@NS@', 'ipset', 'create', 'dltest', 'hash:ip,port'], tools: { ipset: 'ipset' },
  },
  { name: 'clsact', config: 'CONFIG_NET_SCH_INGRESS (clsact)', modules: ['sch_ingress'], probe: ['tc', '-n', '@NS@', 'qdisc', 'add', 'dev', 't0', 'clsact'] },
  {
    // SCTP services and probes: the protocol (socket, conntrack, NAT) and iptables' `-m sctp`.
    // The probe keeps an SCTP listener for a moment: socat dies at once where socket(…, 132) fails.
    // hmac: an SCTP socket's cookie HMAC (net.sctp.cookie_hmac_alg, md5 by default) needs the hmac
    // template; without it the kernel asks for crypto-hmac at the first socket.
    name: 'sctp', config: 'CONFIG_IP_SCTP (module sctp) and CONFIG_NETFILTER_XT_MATCH_SCTP (module xt_sctp)', modules: ['sctp', 'xt_sctp', 'hmac'],
    probe: ['ip', 'netns', 'exec', '@NS@', 'sh', '-c', 'socat -u SCTP-LISTEN:9 OPEN:/dev/null & p=$!; sleep 0.2; kill -0 $p && kill $p'],
    tools: { socat: 'socat' },
  },
  {
    name: 'bpf', config: 'CONFIG_BPF_SYSCALL with bpffs mounted at /sys/fs/bpf', modules: ['cls_bpf'],
    probe: ['test', '-d', '/sys/fs/bpf'], tools: { bpftool: 'bpftool', clang: 'clang' },
  },
];

/** Files a probe may name as `@FILE:<name>@` (probe-features.sh writes them to a temporary directory). */
export const PROBE_FILES: Record<string, string> = {
  'statistic-dnat.rules': [
    '*nat', ':PREROUTING ACCEPT [0:0]',
    '-A PREROUTING -d 10.255.255.1/32 -p tcp -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.255.255.2:80',
    'COMMIT', '',
  ].join('\n'),
};

export function featureRecords(): FeatureRecord[] {
  const all = [...CORE_FEATURES];
  for (const f of FAMILIES) {
    for (const r of f.features) if (!all.some((x) => x.name === r.name)) all.push(r);
  }
  return all;
}

export function featureRecord(name: string): FeatureRecord | undefined {
  return featureRecords().find((r) => r.name === name);
}

/** The modules a plan needs: those its compilers asked for plus those of its features. */
export function modulesFor(features: Iterable<string>, explicit: string[] = []): string[] {
  const out = new Set(explicit);
  for (const f of features) for (const m of featureRecord(f)?.modules ?? []) out.add(m);
  return [...out];
}

/**
 * The probe table probe-features.sh reads on stdin: `@file NAME` blocks (content up to a line
 * `@end`), then one `FEATURE<TAB>argv…` line per probed feature, in order (later probes may use
 * the links earlier ones made: clsact needs veth's t0).
 */
export function probeTable(): string {
  const files = Object.entries(PROBE_FILES).map(([n, c]) => `@file ${n}\n${c}@end\n`).join('');
  const lines = featureRecords().filter((r) => r.probe).map((r) => [r.name, ...r.probe!].join('\t'));
  return `${files}${lines.join('\n')}\n`;
}
