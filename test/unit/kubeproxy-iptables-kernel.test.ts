/**
 * Kernel check (root) for lab/services/iptables: the kube-proxy payload is fed to the real
 * `iptables-legacy-restore` and `iptables-nft-restore` inside throwaway network namespaces
 * (`ip netns add dlt-ipt-<random>`), read back with iptables-save and compared with the predictions
 * (declared chains, rule counts, u32-quantised probabilities, DNAT targets, built-in jumps).
 *
 * Never touches the root namespace's firewall: every iptables command runs under `ip netns exec`.
 * Without root or without the tools the tests FAIL (package "iptables", and "iproute2" for `ip`).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { buildKubeProxyIptables, predictReadBack } from '../../lab/services/iptables/index.ts';
import type { KubeProxyIptablesInput, KubeProxyService } from '../../lab/services/iptables/index.ts';

type Backend = 'legacy' | 'nft';

const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['iptables-legacy-restore', 'iptables'],
  ['iptables-legacy-save', 'iptables'],
  ['iptables-nft-restore', 'iptables'],
  ['iptables-nft-save', 'iptables'],
];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Fails the test (never skips) when not root or a tool is missing. */
function preflight(t: ExecutionContext): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.fail('kube-proxy iptables kernel check must run as root (needs `ip netns` and iptables from the "iptables" package)');
    return false;
  }
  const missing = TOOLS.filter(([bin]) => findBinary(bin) === undefined);
  if (missing.length > 0) {
    t.fail(
      `missing tools: ${missing.map(([bin, pkg]) => `${bin} (package "${pkg}")`).join(', ')}; ` +
        'install with: apt-get install iptables iproute2',
    );
    return false;
  }
  return true;
}

function run(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv as [string, ...string[]];
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
}

function nsExec(ns: string, argv: readonly string[], input?: string): string {
  return run(['ip', 'netns', 'exec', ns, ...argv], input);
}

function newNetns(t: ExecutionContext): string {
  const ns = `dlt-ipt-${randomBytes(4).toString('hex')}`;
  run(['ip', 'netns', 'add', ns]);
  t.teardown(() => {
    try {
      run(['ip', 'netns', 'del', ns]);
    } catch {
      // already gone
    }
  });
  return ns;
}

function restore(ns: string, backend: Backend, payload: string): void {
  // What kube-proxy runs: iptables-restore --noflush --counters.
  nsExec(ns, [`iptables-${backend}-restore`, '--noflush', '--counters'], payload);
}

interface SavedTable {
  chains: Set<string>;
  rules: Map<string, string[]>;
}

function save(ns: string, backend: Backend): Map<string, SavedTable> {
  const text = nsExec(ns, [`iptables-${backend}-save`]);
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const l of text.split('\n')) {
    if (l.startsWith('*')) {
      cur = { chains: new Set(), rules: new Map() };
      tables.set(l.slice(1), cur);
    } else if (cur && l.startsWith(':')) {
      cur.chains.add(l.slice(1).split(' ')[0]!);
    } else if (cur && l.startsWith('-A ')) {
      const chain = l.split(' ')[1]!;
      const list = cur.rules.get(chain) ?? [];
      list.push(l);
      cur.rules.set(chain, list);
    }
  }
  return tables;
}

function savedTable(s: Map<string, SavedTable>, name: string): SavedTable {
  return s.get(name) ?? { chains: new Set(), rules: new Map() };
}

/** -A rules per chain in the payload, plus the built-in jumps (written as -I … 1). */
function payloadRuleCounts(payload: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  let table = '';
  for (const l of payload.split('\n')) {
    if (l.startsWith('*')) {
      table = l.slice(1);
      out.set(table, new Map());
      continue;
    }
    const m = /^-(A|I) (\S+)/.exec(l);
    if (!m) continue;
    const counts = out.get(table)!;
    counts.set(m[2]!, (counts.get(m[2]!) ?? 0) + 1);
  }
  return out;
}

function probabilities(lines: Iterable<string>, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = pattern.exec(l);
    if (m) out.push(m[1]!);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Input: SCENARIOS.md kproxy services plus a 3-endpoint DNS service, a Local NodePort and an
// affinity service, so every rule shape is exercised by the kernel.
// ---------------------------------------------------------------------------------------------

const SERVICES: KubeProxyService[] = [
  {
    namespace: 'default',
    name: 'nginx-demo-1',
    clusterIP: '10.196.52.1',
    externalIPs: ['192.168.64.57'],
    externalTrafficPolicy: 'Cluster',
    ports: [{ protocol: 'TCP', port: 8088, targetPort: 80 }],
    endpoints: [
      { ip: '10.217.11.5', nodeName: 'worker-a' },
      { ip: '10.217.120.72', nodeName: 'worker-b' },
    ],
  },
  {
    namespace: 'default',
    name: 'nginx-demo-2',
    clusterIP: '10.196.89.31',
    externalIPs: [],
    externalTrafficPolicy: 'Cluster',
    ports: [{ protocol: 'TCP', port: 8089, targetPort: 80, nodePort: 31755 }],
    endpoints: [
      { ip: '10.217.11.6', nodeName: 'worker-a' },
      { ip: '10.217.120.73', nodeName: 'worker-b' },
    ],
  },
  {
    namespace: 'kube-system',
    name: 'kube-dns',
    clusterIP: '10.196.0.10',
    externalIPs: [],
    externalTrafficPolicy: 'Cluster',
    ports: [
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
      { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
    ],
    endpoints: [
      { ip: '10.217.11.2', nodeName: 'worker-a' },
      { ip: '10.217.11.3', nodeName: 'worker-a' },
      { ip: '10.217.120.66', nodeName: 'worker-b' },
    ],
  },
  {
    namespace: 'default',
    name: 'web-local',
    type: 'LoadBalancer',
    clusterIP: '10.196.7.7',
    externalIPs: [],
    externalTrafficPolicy: 'Local',
    loadBalancerIPs: ['203.0.113.10'],
    loadBalancerSourceRanges: ['198.51.100.0/24', '192.168.64.0/24'],
    healthCheckNodePort: 32100,
    sessionAffinity: { clientIP: { timeoutSeconds: 600 } },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    endpoints: [
      { ip: '10.217.11.9', nodeName: 'worker-a' },
      { ip: '10.217.120.90', nodeName: 'worker-b' },
    ],
  },
  {
    namespace: 'default',
    name: 'empty',
    clusterIP: '10.196.9.9',
    externalIPs: ['192.168.64.99'],
    externalTrafficPolicy: 'Cluster',
    ports: [{ protocol: 'TCP', port: 80, targetPort: 80, nodePort: 30999 }],
    endpoints: [],
  },
];

function input(flavor: 'ext' | 'xlb', over: Partial<KubeProxyIptablesInput> = {}): KubeProxyIptablesInput {
  return {
    nodeName: 'worker-a',
    nodeIPs: ['192.168.64.57'],
    clusterCIDR: '10.217.0.0/16',
    flavor,
    services: SERVICES,
    ...over,
  };
}

for (const flavor of ['ext', 'xlb'] as const) {
  for (const backend of ['legacy', 'nft'] as const) {
    test(`kernel (${backend}, ${flavor}): payload restores and reads back as predicted`, (t) => {
      if (!preflight(t)) return;
      const ns = newNetns(t);
      const res = buildKubeProxyIptables(input(flavor));
      try {
        restore(ns, backend, res.payload);
      } catch (err) {
        t.fail(`iptables-${backend}-restore rejected the payload: ${(err as { stderr?: string }).stderr ?? String(err)}`);
        return;
      }
      const saved = save(ns, backend);

      // Every declared chain exists, in the right table.
      for (const tableName of ['filter', 'nat', 'mangle'] as const) {
        const st = savedTable(saved, tableName);
        for (const chain of res.chains[tableName]) t.true(st.chains.has(chain), `${tableName}: chain ${chain} missing`);
      }

      // Same number of rules per chain as written (built-in chains were empty: fresh namespace).
      for (const [tableName, counts] of payloadRuleCounts(res.payload)) {
        const st = savedTable(saved, tableName);
        for (const [chain, n] of counts) t.is(st.rules.get(chain)?.length ?? 0, n, `${tableName} ${chain} rule count`);
      }

      // Probabilities: the kernel's read-back equals the u32 prediction for every statistic rule.
      const natLines = [...savedTable(saved, 'nat').rules.values()].flat();
      const written = probabilities(res.payload.split('\n'), /--probability (\S+)/);
      const readBack = probabilities(natLines, /--probability (\S+)/);
      t.true(written.length >= 4);
      t.deepEqual(readBack, written.map((p) => predictReadBack(p)).sort());

      const dns = res.servicePorts.find((s) => s.servicePortName === 'kube-system/kube-dns:dns')!;
      t.is(dns.svcChain, 'KUBE-SVC-TCOU7JCQXEZGVUNU');
      const dnsRules = savedTable(saved, 'nat').rules.get(dns.svcChain) ?? [];
      const first = dns.clusterEndpoints[0]!;
      t.is(first.probabilityReadBack, '0.33333333349');
      t.true(
        dnsRules.some((r) => r.includes('--probability 0.33333333349') && r.endsWith(`-j ${first.sepChain}`)),
        `1/3 rule of ${dns.svcChain} read back as 0.33333333349:\n${dnsRules.join('\n')}`,
      );

      // nginx-demo-1: two SEP chains with 0.5 / unconditional, DNAT to the pods' :80.
      const n1 = res.servicePorts.find((s) => s.servicePortName === 'default/nginx-demo-1')!;
      const n1Rules = savedTable(saved, 'nat').rules.get(n1.svcChain) ?? [];
      t.true(n1Rules.some((r) => r.includes('--probability 0.50000000000') && r.endsWith(`-j ${n1.clusterEndpoints[0]!.sepChain}`)));
      t.true(n1Rules.some((r) => !r.includes('statistic') && r.endsWith(`-j ${n1.clusterEndpoints[1]!.sepChain}`)));
      for (const ep of n1.clusterEndpoints) {
        const sep = savedTable(saved, 'nat').rules.get(ep.sepChain) ?? [];
        t.true(sep.some((r) => r.endsWith(`-j DNAT --to-destination ${ep.endpoint}`)), `${ep.sepChain} DNAT`);
        t.true(sep.some((r) => r.includes(`-s ${ep.endpoint.split(':')[0]}/32`) && r.endsWith('-j KUBE-MARK-MASQ')));
      }

      // NodePort of nginx-demo-2 and the "must be the last rule" jump.
      const n2 = res.servicePorts.find((s) => s.servicePortName === 'default/nginx-demo-2')!;
      const nodeports = savedTable(saved, 'nat').rules.get('KUBE-NODEPORTS') ?? [];
      const n2Target = flavor === 'ext' ? n2.extChain : n2.svcChain;
      t.true(nodeports.some((r) => r.includes('--dport 31755') && r.endsWith(`-j ${n2Target}`)));
      const kubeServices = savedTable(saved, 'nat').rules.get('KUBE-SERVICES') ?? [];
      t.regex(kubeServices.at(-1)!, /-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/);

      // Built-in jumps and the masquerade machinery.
      const nat = savedTable(saved, 'nat');
      t.deepEqual(nat.rules.get('PREROUTING'), ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
      t.deepEqual(nat.rules.get('OUTPUT'), ['-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']);
      t.deepEqual(nat.rules.get('POSTROUTING'), ['-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']);
      // iptables 1.8.x saves `MARK --or-mark 0x00004000` as --set-xmark value/value.
      t.deepEqual(nat.rules.get('KUBE-MARK-MASQ'), ['-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000']);
      t.true((nat.rules.get('KUBE-POSTROUTING') ?? []).some((r) => r.includes('-j MASQUERADE --random-fully')));
      const inputJumps = (savedTable(saved, 'filter').rules.get('INPUT') ?? []).map((r) => r.split(' -j ')[1]);
      t.deepEqual(
        inputJumps,
        flavor === 'ext'
          ? ['KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL']
          : ['KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL'],
      );

      // No-endpoint service is rejected in filter.
      const filterServices = savedTable(saved, 'filter').rules.get('KUBE-SERVICES') ?? [];
      t.true(filterServices.some((r) => r.includes('default/empty has no endpoints') && r.includes('-j REJECT')));
    });
  }
}

for (const backend of ['legacy', 'nft'] as const) {
  test(`kernel (${backend}): a kube-proxy resync (jumps already present) is idempotent and removes stale chains`, (t) => {
    if (!preflight(t)) return;
    const ns = newNetns(t);
    restore(ns, backend, buildKubeProxyIptables(input('ext')).payload);
    const before = save(ns, backend);

    // Second sync: same state, jumps left alone (kube-proxy's EnsureRule finds them) → identical rules.
    restore(ns, backend, buildKubeProxyIptables(input('ext', { jumps: 'none' })).payload);
    const again = save(ns, backend);
    for (const tableName of ['filter', 'nat', 'mangle']) {
      t.deepEqual(savedTable(again, tableName).rules, savedTable(before, tableName).rules, `${tableName} unchanged`);
      t.deepEqual(savedTable(again, tableName).chains, savedTable(before, tableName).chains, `${tableName} chains unchanged`);
    }

    // Third sync: kube-dns removed; kube-proxy passes the existing nat chains so stale ones are deleted.
    const remaining = SERVICES.filter((s) => s.name !== 'kube-dns');
    const res = buildKubeProxyIptables(
      input('ext', { jumps: 'none', services: remaining, existingNatChains: [...savedTable(again, 'nat').chains] }),
    );
    restore(ns, backend, res.payload);
    const after = savedTable(save(ns, backend), 'nat');
    t.false([...after.chains].some((c) => c === 'KUBE-SVC-TCOU7JCQXEZGVUNU' || c === 'KUBE-SVC-ERIFXISQEP7F7OF4'));
    t.false([...after.rules.values()].flat().some((r) => r.includes('kube-dns')));
    const expectedChains = new Set([...res.chains.nat, 'PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);
    for (const c of after.chains) t.true(expectedChains.has(c), `unexpected nat chain left: ${c}`);
  });
}
