/**
 * Golden payloads: kubernetes' own whole-payload tests, their inputs read from manifests in
 * test/fixtures/k8s/ (as `kubectl get -o yaml` prints Services and EndpointSlices), built at the release
 * the test comes from, compared line for line within every chain — as kube-proxy's
 * assertIPTablesRulesEqual does (it sorts chains, since services come from a Go map, and keeps the
 * order of rules inside a chain).
 *
 * Explained differences, applied to our output before comparing:
 *  - the fake proxier hard-codes masqueradeMark "0x4000"; the real one formats "%#08x" → "0x00004000"
 *    (pkg/proxy/iptables/proxier_test.go NewFakeProxier vs proxier.go NewProxier);
 *  - the fake iptables has no --random-fully, jumps from built-in chains and the canary chains are not
 *    part of kube-proxy's restore input: input randomFully false, jumps 'none', canary false.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readManifests } from '../../lab/kubernetes/manifests.ts';
import { readClusterObjects } from '../../lab/kubernetes/objects.ts';
import { kubeProxyServices } from '../../lab/kubernetes/kube-proxy.ts';
import { buildIptablesRestore } from '../../lab/services/iptables/index.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/k8s/', import.meta.url));

interface Table {
  chains: string[];
  rules: Map<string, string[]>;
}

function tables(payload: string): Map<string, Table> {
  const out = new Map<string, Table>();
  let cur: Table | undefined;
  for (const raw of payload.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l === 'COMMIT') continue;
    if (l.startsWith('*')) out.set(l.slice(1), (cur = { chains: [], rules: new Map() }));
    else if (l.startsWith(':')) cur!.chains.push(l.slice(1).split(' ')[0]!);
    else {
      const chain = l.split(' ')[1]!;
      cur!.rules.set(chain, [...(cur!.rules.get(chain) ?? []), l]);
    }
  }
  return out;
}

function fakeProxierPayload(manifest: string, version: string): string {
  const objects = readClusterObjects(readManifests(`${FIXTURES}${manifest}`));
  const payload = buildIptablesRestore({
    nodeName: 'test-hostname',
    nodeIPs: ['192.168.0.2'],
    clusterCIDR: '10.0.0.0/8',
    version,
    nfacct: true,
    randomFully: false,
    jumps: 'none',
    canary: false,
    services: kubeProxyServices(objects),
  });
  return payload.replaceAll('0x00004000', '0x4000');
}

test('golden: TestOverallIPTablesRules (v1.31) from manifests, every chain line for line', (t) => {
  const got = tables(fakeProxierPayload('overall-iptables-rules.yaml', '1.31'));
  const want = tables(readFileSync(`${FIXTURES}overall-iptables-rules.v1.31.txt`, 'utf8'));
  t.deepEqual([...got.keys()], [...want.keys()]);
  let lines = 0;
  let ours = 0;
  for (const g of got.values()) for (const rules of g.rules.values()) ours += rules.length;
  for (const [name, w] of want) {
    const g = got.get(name)!;
    t.deepEqual([...g.chains].sort(), [...w.chains].sort(), `${name}: declared chains`);
    t.deepEqual([...g.rules.keys()].sort(), [...w.rules.keys()].sort(), `${name}: chains with rules`);
    for (const [chain, rules] of w.rules) {
      t.deepEqual(g.rules.get(chain), rules, `${name} ${chain}`);
      lines += rules.length;
    }
  }
  // Upstream's payload has 10 filter and 55 nat rules; ours has exactly those.
  t.is(lines, 65);
  t.is(ours, 65);
});

test('golden: the same cluster at 1.30 lacks only the localhost NodePort counters, at 1.29 every nfacct match', (t) => {
  const full = fakeProxierPayload('overall-iptables-rules.yaml', '1.31').split('\n');
  const v30 = fakeProxierPayload('overall-iptables-rules.yaml', '1.30').split('\n');
  const v29 = fakeProxierPayload('overall-iptables-rules.yaml', '1.29').split('\n');
  t.deepEqual(v30, full.filter((l) => !l.includes('localhost_nps_accepted_pkts')));
  t.deepEqual(v29, v30.map((l) => l.replace(' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts', '')));
});
