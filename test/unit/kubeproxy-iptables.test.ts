/**
 * Unit tests for lab/services/iptables (kube-proxy iptables mode, pure payload builder).
 * The kernel round-trip lives in kubeproxy-iptables-kernel.test.ts.
 */
import test from 'ava';
import {
  base32StdEncode,
  buildIptablesRestore,
  buildKubeProxyIptables,
  computeProbability,
  effectiveShares,
  endpointChainName,
  endpointProbability,
  endpointProbabilityReadBack,
  formatFixed,
  jumpSequence,
  masqueradeMarkForBit,
  portProtoHash,
  predictReadBack,
  probabilityToU32,
  servicePortChainName,
  servicePortName,
  u32ToReadBack,
} from '../../lab/services/iptables/index.ts';
import type { KubeProxyIptablesInput, KubeProxyService } from '../../lab/services/iptables/index.ts';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface ParsedTable {
  chains: string[];
  /** -A rules per chain, in order. */
  rules: Map<string, string[]>;
  /** -I lines (built-in chain jumps). */
  inserts: string[];
  other: string[];
}

function parsePayload(payload: string): Map<string, ParsedTable> {
  const tables = new Map<string, ParsedTable>();
  let cur: ParsedTable | undefined;
  for (const raw of payload.split('\n')) {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    if (l.startsWith('*')) {
      cur = { chains: [], rules: new Map(), inserts: [], other: [] };
      tables.set(l.slice(1), cur);
      continue;
    }
    if (!cur) throw new Error(`line outside a table: ${l}`);
    if (l === 'COMMIT') {
      cur = undefined;
      continue;
    }
    if (l.startsWith(':')) {
      cur.chains.push(l.slice(1).split(' ')[0]!);
    } else if (l.startsWith('-A ')) {
      const chain = l.split(' ')[1]!;
      const list = cur.rules.get(chain) ?? [];
      list.push(l);
      cur.rules.set(chain, list);
    } else if (l.startsWith('-I ')) {
      cur.inserts.push(l);
    } else {
      cur.other.push(l);
    }
  }
  return tables;
}

function table(payload: string, name: string): ParsedTable {
  const t = parsePayload(payload).get(name);
  if (!t) throw new Error(`no *${name} table`);
  return t;
}

function rulesOf(payload: string, tableName: string, chain: string): string[] {
  return table(payload, tableName).rules.get(chain) ?? [];
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const TARGETS = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK']);

// ---------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------

test('base32 is RFC 4648 standard alphabet with padding', (t) => {
  // RFC 4648 §10 test vectors.
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ];
  for (const [input, expected] of vectors) t.is(base32StdEncode(Buffer.from(input)), expected, input);
});

test('service chain names match well-known cluster output', (t) => {
  t.is(servicePortChainName('KUBE-SVC-', 'default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y');
  t.is(servicePortChainName('KUBE-SVC-', 'kube-system/kube-dns:dns', 'udp'), 'KUBE-SVC-TCOU7JCQXEZGVUNU');
  t.is(servicePortChainName('KUBE-SVC-', 'kube-system/kube-dns:dns-tcp', 'tcp'), 'KUBE-SVC-ERIFXISQEP7F7OF4');
  t.is(servicePortChainName('KUBE-SVC-', 'kube-system/kube-dns:metrics', 'tcp'), 'KUBE-SVC-JD5MR3NA4I4DYORP');
  t.is(endpointChainName('default/kubernetes:https', 'tcp', '172.18.0.2:6443'), 'KUBE-SEP-V2PECCYPB6X2GSCW');
  // SVL/EXT/FW/XLB share the SVC suffix.
  t.is(servicePortChainName('KUBE-EXT-', 'default/kubernetes:https', 'tcp'), 'KUBE-EXT-NPX46M4PTMTKRN6Y');
  t.is(servicePortChainName('KUBE-SVL-', 'default/kubernetes:https', 'tcp'), 'KUBE-SVL-NPX46M4PTMTKRN6Y');
  t.is(servicePortChainName('KUBE-FW-', 'default/kubernetes:https', 'tcp'), 'KUBE-FW-NPX46M4PTMTKRN6Y');
  t.is(servicePortChainName('KUBE-XLB-', 'default/kubernetes:https', 'tcp'), 'KUBE-XLB-NPX46M4PTMTKRN6Y');
  t.is(portProtoHash('default/kubernetes:https', 'tcp'), 'NPX46M4PTMTKRN6Y');
});

test('chain names match kubernetes proxier_test.go vectors', (t) => {
  // kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go, TestOverallIPTablesRulesWithMultipleServices
  // (and TestClusterIPGeneral): services nsN/svcN port "p80"/TCP, endpoints 10.180.x.y:80.
  const svc: Array<[string, string]> = [
    ['ns1/svc1:p80', 'KUBE-SVC-XPGD46QRK7WJZT7O'],
    ['ns2/svc2:p80', 'KUBE-SVC-GNZBNJ2PO5MGZ6GT'],
    ['ns3/svc3:p80', 'KUBE-SVC-X27LE4BHSL4DOUIK'],
    ['ns4/svc4:p80', 'KUBE-SVC-4SW47YFZTEDKD3PK'],
    ['ns5/svc5:p80', 'KUBE-SVC-NUKIZ6OKUXPJNT4C'],
  ];
  for (const [spn, chain] of svc) t.is(servicePortChainName('KUBE-SVC-', spn, 'tcp'), chain, spn);
  t.is(servicePortChainName('KUBE-FW-', 'ns5/svc5:p80', 'tcp'), 'KUBE-FW-NUKIZ6OKUXPJNT4C');
  const sep: Array<[string, string, string]> = [
    ['ns1/svc1:p80', '10.180.0.1:80', 'KUBE-SEP-SXIVWICOYRO3J4NJ'],
    ['ns1/svc1:p80', '10.180.2.1:80', 'KUBE-SEP-ZX7GRIZKSNUQ3LAJ'],
    ['ns2/svc2:p80', '10.180.0.2:80', 'KUBE-SEP-RS4RBKLTHTF2IUXJ'],
    ['ns3/svc3:p80', '10.180.0.3:80', 'KUBE-SEP-OYPFS5VJICHGATKP'],
    ['ns4/svc4:p80', '10.180.0.4:80', 'KUBE-SEP-UKSFD7AGPMPPLUHC'],
    ['ns4/svc4:p80', '10.180.0.5:80', 'KUBE-SEP-C6EBXVWJJZMIWKLZ'],
    ['ns5/svc5:p80', '10.180.0.3:80', 'KUBE-SEP-I77PXRDZVX7PMWMN'],
  ];
  for (const [spn, ep, chain] of sep) t.is(endpointChainName(spn, 'tcp', ep), chain, `${spn} ${ep}`);
});

test('servicePortName omits the ":" for unnamed ports', (t) => {
  t.is(servicePortName('default', 'nginx-demo-1'), 'default/nginx-demo-1');
  t.is(servicePortName('default', 'nginx-demo-1', ''), 'default/nginx-demo-1');
  t.is(servicePortName('kube-system', 'kube-dns', 'dns'), 'kube-system/kube-dns:dns');
});

// ---------------------------------------------------------------------------------------------
// Probabilities
// ---------------------------------------------------------------------------------------------

test('probability strings are kube-proxy %0.10f of 1/(n-i)', (t) => {
  t.is(computeProbability(2), '0.5000000000');
  t.is(computeProbability(3), '0.3333333333');
  t.is(computeProbability(6), '0.1666666667');
  t.is(computeProbability(1), '1.0000000000');
  t.is(endpointProbability(0, 3), '0.3333333333');
  t.is(endpointProbability(1, 3), '0.5000000000');
  t.is(endpointProbability(2, 3), undefined);
  t.is(endpointProbability(0, 1), undefined);
  t.throws(() => endpointProbability(3, 3));
  // Exact tie: Go rounds half to even ("…812"), JS toFixed would give "…813".
  t.is(computeProbability(2048), '0.0004882812');
  t.is(formatFixed(0.125, 2), '0.12');
});

test('read-back prediction = u32 quantisation printed with 11 decimals', (t) => {
  t.is(predictReadBack('0.3333333333'), '0.33333333349');
  t.is(predictReadBack('0.5000000000'), '0.50000000000');
  const table: Array<[number, string]> = [
    [2, '0.50000000000'],
    [3, '0.33333333349'],
    [4, '0.25000000000'],
    [5, '0.20000000019'],
    [6, '0.16666666651'],
    [7, '0.14285714272'],
    [10, '0.10000000009'],
  ];
  for (const [n, expected] of table) t.is(predictReadBack(computeProbability(n)), expected, `1/${n}`);
  t.is(probabilityToU32('0.3333333333'), 715827883);
  t.is(u32ToReadBack(0x80000000), '1.00000000000');
  t.is(endpointProbabilityReadBack(0, 3), '0.33333333349');
  t.is(endpointProbabilityReadBack(2, 3), undefined);
});

test('quantised shares stay uniform', (t) => {
  for (const n of [1, 2, 3, 5, 10, 100]) {
    const shares = effectiveShares(n);
    t.is(shares.length, n);
    t.true(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    for (const s of shares) t.true(Math.abs(s - 1 / n) < 1e-8, `n=${n} share=${s}`);
  }
});

// ---------------------------------------------------------------------------------------------
// SCENARIOS.md kproxy: nginx-demo-1 / nginx-demo-2
// ---------------------------------------------------------------------------------------------

const NGINX1: KubeProxyService = {
  namespace: 'default',
  name: 'nginx-demo-1',
  clusterIP: '10.196.52.1',
  externalIPs: ['192.168.64.57'],
  externalTrafficPolicy: 'Cluster',
  ports: [{ protocol: 'TCP', port: 8088, targetPort: 80 }],
  endpoints: [
    { ip: '10.217.120.72', nodeName: 'worker-b' },
    { ip: '10.217.11.5', nodeName: 'worker-a' },
  ],
};

const NGINX2: KubeProxyService = {
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
};

function kproxyInput(over: Partial<KubeProxyIptablesInput> = {}): KubeProxyIptablesInput {
  return {
    nodeName: 'worker-a',
    nodeIPs: ['192.168.64.57'],
    clusterCIDR: '10.217.0.0/16',
    services: [NGINX1, NGINX2],
    ...over,
  };
}

const N1 = {
  svc: servicePortChainName('KUBE-SVC-', 'default/nginx-demo-1', 'tcp'),
  ext: servicePortChainName('KUBE-EXT-', 'default/nginx-demo-1', 'tcp'),
  // Endpoints are sorted by "ip:port" string, as kube-proxy's EndpointsMap: "10.217.11.5:80" < "10.217.120.72:80".
  sepA: endpointChainName('default/nginx-demo-1', 'tcp', '10.217.11.5:80'),
  sepB: endpointChainName('default/nginx-demo-1', 'tcp', '10.217.120.72:80'),
};
const N2 = {
  svc: servicePortChainName('KUBE-SVC-', 'default/nginx-demo-2', 'tcp'),
  svl: servicePortChainName('KUBE-SVL-', 'default/nginx-demo-2', 'tcp'),
  ext: servicePortChainName('KUBE-EXT-', 'default/nginx-demo-2', 'tcp'),
  xlb: servicePortChainName('KUBE-XLB-', 'default/nginx-demo-2', 'tcp'),
  sepA: endpointChainName('default/nginx-demo-2', 'tcp', '10.217.11.6:80'),
  sepB: endpointChainName('default/nginx-demo-2', 'tcp', '10.217.120.73:80'),
};

test('kproxy chain names are stable', (t) => {
  t.is(N1.svc, 'KUBE-SVC-ZY4BE2BR2EQQGD2J');
  t.is(N1.ext, 'KUBE-EXT-ZY4BE2BR2EQQGD2J');
  t.is(N2.svc, 'KUBE-SVC-ZOX6RBMDHRTFI74F');
  t.is(N1.sepB, 'KUBE-SEP-RNDZ3MVNTCJCTOTH');
});

test('ext flavour: nginx-demo-1 ClusterIP, externalIP, statistic and DNAT', (t) => {
  const res = buildKubeProxyIptables(kproxyInput());
  const p = res.payload;
  const nat = table(p, 'nat');
  for (const c of [N1.svc, N1.ext, N1.sepA, N1.sepB, N2.svc, N2.ext, N2.sepA, N2.sepB]) t.true(nat.chains.includes(c), c);
  t.false(nat.chains.includes(N2.svl), 'ETP=Cluster has no SVL chain');

  const services = rulesOf(p, 'nat', 'KUBE-SERVICES');
  t.true(
    services.includes(
      `-A KUBE-SERVICES -m comment --comment "default/nginx-demo-1 cluster IP" -m tcp -p tcp -d 10.196.52.1 --dport 8088 -j ${N1.svc}`,
    ),
  );
  t.true(
    services.includes(
      `-A KUBE-SERVICES -m comment --comment "default/nginx-demo-1 external IP" -m tcp -p tcp -d 192.168.64.57 --dport 8088 -j ${N1.ext}`,
    ),
  );
  t.is(
    services.at(-1),
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );

  t.deepEqual(rulesOf(p, 'nat', N1.svc), [
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 cluster IP" -m tcp -p tcp -d 10.196.52.1 --dport 8088 ! -s 10.217.0.0/16 -j KUBE-MARK-MASQ`,
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 -> 10.217.11.5:80" -m statistic --mode random --probability 0.5000000000 -j ${N1.sepA}`,
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 -> 10.217.120.72:80" -j ${N1.sepB}`,
  ]);
  t.deepEqual(rulesOf(p, 'nat', N1.ext), [
    `-A ${N1.ext} -m comment --comment "masquerade traffic for default/nginx-demo-1 external destinations" -j KUBE-MARK-MASQ`,
    `-A ${N1.ext} -j ${N1.svc}`,
  ]);
  t.deepEqual(rulesOf(p, 'nat', N1.sepB), [
    `-A ${N1.sepB} -m comment --comment default/nginx-demo-1 -s 10.217.120.72 -j KUBE-MARK-MASQ`,
    `-A ${N1.sepB} -m comment --comment default/nginx-demo-1 -m tcp -p tcp -j DNAT --to-destination 10.217.120.72:80`,
  ]);

  const sp = res.servicePorts.find((s) => s.servicePortName === 'default/nginx-demo-1');
  t.truthy(sp);
  t.deepEqual(
    sp!.clusterEndpoints.map((e) => [e.endpoint, e.sepChain, e.probability, e.probabilityReadBack]),
    [
      ['10.217.11.5:80', N1.sepA, '0.5000000000', '0.50000000000'],
      ['10.217.120.72:80', N1.sepB, undefined, undefined],
    ],
  );
});

test('ext flavour: nginx-demo-2 NodePort via KUBE-NODEPORTS → KUBE-EXT → masquerade → KUBE-SVC', (t) => {
  const p = buildIptablesRestore(kproxyInput());
  t.deepEqual(rulesOf(p, 'nat', 'KUBE-NODEPORTS'), [
    `-A KUBE-NODEPORTS -m comment --comment default/nginx-demo-2 -m tcp -p tcp --dport 31755 -j ${N2.ext}`,
  ]);
  t.deepEqual(rulesOf(p, 'nat', N2.ext), [
    `-A ${N2.ext} -m comment --comment "masquerade traffic for default/nginx-demo-2 external destinations" -j KUBE-MARK-MASQ`,
    `-A ${N2.ext} -j ${N2.svc}`,
  ]);
  t.true(rulesOf(p, 'nat', N2.sepA).includes(
    `-A ${N2.sepA} -m comment --comment default/nginx-demo-2 -m tcp -p tcp -j DNAT --to-destination 10.217.11.6:80`,
  ));
});

test('ext flavour: externalTrafficPolicy=Local uses KUBE-EXT short-circuits and KUBE-SVL with local endpoints only', (t) => {
  const local = { ...NGINX2, externalTrafficPolicy: 'Local' as const };
  const p = buildIptablesRestore(kproxyInput({ services: [NGINX1, local] }));
  t.deepEqual(rulesOf(p, 'nat', N2.ext), [
    `-A ${N2.ext} -m comment --comment "pod traffic for default/nginx-demo-2 external destinations" -s 10.217.0.0/16 -j ${N2.svc}`,
    `-A ${N2.ext} -m comment --comment "masquerade LOCAL traffic for default/nginx-demo-2 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    `-A ${N2.ext} -m comment --comment "route LOCAL traffic for default/nginx-demo-2 external destinations" -m addrtype --src-type LOCAL -j ${N2.svc}`,
    `-A ${N2.ext} -j ${N2.svl}`,
  ]);
  t.deepEqual(rulesOf(p, 'nat', N2.svl), [
    `-A ${N2.svl} -m comment --comment "default/nginx-demo-2 -> 10.217.11.6:80" -j ${N2.sepA}`,
  ]);
  // KUBE-SVC keeps all endpoints (internal traffic policy is Cluster).
  t.is(rulesOf(p, 'nat', N2.svc).length, 3);

  // On worker B's view the only local endpoint differs; with no local endpoint at all → filter DROP.
  const noLocal = { ...local, endpoints: [{ ip: '10.217.120.73', nodeName: 'worker-b' }] };
  const p2 = buildIptablesRestore(kproxyInput({ services: [noLocal] }));
  t.false(table(p2, 'nat').chains.includes(N2.svl));
  t.is(rulesOf(p2, 'nat', N2.ext).length, 3, 'no final jump to KUBE-SVL');
  t.deepEqual(rulesOf(p2, 'filter', 'KUBE-EXTERNAL-SERVICES'), [
    '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx-demo-2 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 31755 -j DROP',
  ]);
});

test('xlb flavour (1.23): nginx-demo-1/2 with masquerade rules inside KUBE-SVC and KUBE-XLB for Local', (t) => {
  const p = buildIptablesRestore(kproxyInput({ flavor: 'xlb' }));
  const nat = table(p, 'nat');
  t.false(nat.chains.some((c) => c.startsWith('KUBE-EXT-') || c.startsWith('KUBE-SVL-')));
  t.true(nat.chains.includes('KUBE-MARK-DROP'));
  t.deepEqual(rulesOf(p, 'nat', N1.svc), [
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 cluster IP" -m tcp -p tcp -d 10.196.52.1 --dport 8088 ! -s 10.217.0.0/16 -j KUBE-MARK-MASQ`,
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 external IP" -m tcp -p tcp -d 192.168.64.57 --dport 8088 ! -s 10.217.0.0/16 -j KUBE-MARK-MASQ`,
    `-A ${N1.svc} -m comment --comment default/nginx-demo-1 -m statistic --mode random --probability 0.5000000000 -j ${N1.sepA}`,
    `-A ${N1.svc} -m comment --comment default/nginx-demo-1 -j ${N1.sepB}`,
  ]);
  t.true(rulesOf(p, 'nat', 'KUBE-SERVICES').includes(
    `-A KUBE-SERVICES -m comment --comment "default/nginx-demo-1 external IP" -m tcp -p tcp -d 192.168.64.57 --dport 8088 -j ${N1.svc}`,
  ));
  // NodePort, Cluster policy: masquerade rule in KUBE-SVC, KUBE-NODEPORTS jumps straight to KUBE-SVC.
  t.deepEqual(rulesOf(p, 'nat', 'KUBE-NODEPORTS'), [
    `-A KUBE-NODEPORTS -m comment --comment default/nginx-demo-2 -m tcp -p tcp --dport 31755 -j ${N2.svc}`,
  ]);
  t.is(
    rulesOf(p, 'nat', N2.svc)[1],
    `-A ${N2.svc} -m comment --comment default/nginx-demo-2 -m tcp -p tcp --dport 31755 -j KUBE-MARK-MASQ`,
  );
  t.is(
    rulesOf(p, 'nat', 'KUBE-SERVICES').at(-1),
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  // kubelet's drop machinery.
  t.deepEqual(rulesOf(p, 'nat', 'KUBE-MARK-DROP'), ['-A KUBE-MARK-DROP -j MARK --or-mark 0x00008000']);

  // externalTrafficPolicy=Local → KUBE-XLB.
  const local = { ...NGINX2, externalTrafficPolicy: 'Local' as const };
  const p2 = buildIptablesRestore(kproxyInput({ flavor: 'xlb', services: [local] }));
  t.deepEqual(rulesOf(p2, 'nat', 'KUBE-NODEPORTS'), [
    '-A KUBE-NODEPORTS -m comment --comment default/nginx-demo-2 -m tcp -p tcp --dport 31755 -s 127.0.0.0/8 -j KUBE-MARK-MASQ',
    `-A KUBE-NODEPORTS -m comment --comment default/nginx-demo-2 -m tcp -p tcp --dport 31755 -j ${N2.xlb}`,
  ]);
  t.deepEqual(rulesOf(p2, 'nat', N2.xlb), [
    `-A ${N2.xlb} -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -s 10.217.0.0/16 -j ${N2.svc}`,
    `-A ${N2.xlb} -m comment --comment "masquerade LOCAL traffic for default/nginx-demo-2 LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    `-A ${N2.xlb} -m comment --comment "route LOCAL traffic for default/nginx-demo-2 LB IP to service chain" -m addrtype --src-type LOCAL -j ${N2.svc}`,
    `-A ${N2.xlb} -m comment --comment default/nginx-demo-2 -j ${N2.sepA}`,
  ]);
  const p3 = buildIptablesRestore(
    kproxyInput({ flavor: 'xlb', services: [{ ...local, endpoints: [{ ip: '10.217.120.73', nodeName: 'worker-b' }] }] }),
  );
  t.is(
    rulesOf(p3, 'nat', N2.xlb).at(-1),
    `-A ${N2.xlb} -m comment --comment "default/nginx-demo-2 has no local endpoints" -j KUBE-MARK-DROP`,
  );
});

test('masquerade machinery and mark formatting (Go %#08x → 0x00004000)', (t) => {
  t.is(masqueradeMarkForBit(14), '0x00004000');
  t.is(masqueradeMarkForBit(15), '0x00008000');
  const res = buildKubeProxyIptables(kproxyInput());
  t.is(res.masqueradeMark, '0x00004000');
  t.deepEqual(rulesOf(res.payload, 'nat', 'KUBE-POSTROUTING'), [
    '-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ]);
  t.deepEqual(rulesOf(res.payload, 'nat', 'KUBE-MARK-MASQ'), ['-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000']);
  const other = buildIptablesRestore(kproxyInput({ masqueradeBit: 0, randomFully: false }));
  t.true(other.includes('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000001\n'));
  t.true(other.includes('-j MASQUERADE\n'));
});

test('masqueradeAll and missing clusterCIDR change the cluster-IP masquerade rule', (t) => {
  const all = buildIptablesRestore(kproxyInput({ masqueradeAll: true }));
  t.is(
    rulesOf(all, 'nat', N1.svc)[0],
    `-A ${N1.svc} -m comment --comment "default/nginx-demo-1 cluster IP" -m tcp -p tcp -d 10.196.52.1 --dport 8088 -j KUBE-MARK-MASQ`,
  );
  const noCidr = buildIptablesRestore({ ...kproxyInput(), clusterCIDR: undefined });
  t.false(rulesOf(noCidr, 'nat', N1.svc).some((r) => r.includes('KUBE-MARK-MASQ')));
});

test('no endpoints → filter REJECT, no nat chains', (t) => {
  const empty: KubeProxyService = { ...NGINX2, externalIPs: ['192.168.64.99'], endpoints: [] };
  const p = buildIptablesRestore(kproxyInput({ services: [empty] }));
  t.false(table(p, 'nat').chains.some((c) => /^KUBE-(SVC|SEP|EXT)-/.test(c)));
  t.deepEqual(rulesOf(p, 'filter', 'KUBE-SERVICES'), [
    '-A KUBE-SERVICES -m comment --comment "default/nginx-demo-2 has no endpoints" -m tcp -p tcp -d 10.196.89.31 --dport 8089 -j REJECT',
  ]);
  t.deepEqual(rulesOf(p, 'filter', 'KUBE-EXTERNAL-SERVICES'), [
    '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx-demo-2 has no endpoints" -m tcp -p tcp -d 192.168.64.99 --dport 8089 -j REJECT',
    '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx-demo-2 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 31755 -j REJECT',
  ]);
  const notReady = { ...NGINX2, endpoints: NGINX2.endpoints.map((e) => ({ ...e, ready: false })) };
  t.true(buildIptablesRestore(kproxyInput({ services: [notReady] })).includes('has no endpoints'));
});

test('internalTrafficPolicy=Local: cluster IP goes to KUBE-SVL; DROP without local endpoints', (t) => {
  const itp: KubeProxyService = { ...NGINX1, externalIPs: [], internalTrafficPolicy: 'Local' };
  const p = buildIptablesRestore(kproxyInput({ services: [itp] }));
  const svl = servicePortChainName('KUBE-SVL-', 'default/nginx-demo-1', 'tcp');
  t.true(rulesOf(p, 'nat', 'KUBE-SERVICES').some((r) => r.endsWith(`-j ${svl}`)));
  t.false(table(p, 'nat').chains.includes(N1.svc));
  t.deepEqual(rulesOf(p, 'nat', svl).slice(1), [
    `-A ${svl} -m comment --comment "default/nginx-demo-1 -> 10.217.11.5:80" -j ${N1.sepA}`,
  ]);
  const p2 = buildIptablesRestore(kproxyInput({ nodeName: 'worker-c', services: [itp] }));
  t.deepEqual(rulesOf(p2, 'filter', 'KUBE-SERVICES'), [
    '-A KUBE-SERVICES -m comment --comment "default/nginx-demo-1 has no local endpoints" -m tcp -p tcp -d 10.196.52.1 --dport 8088 -j DROP',
  ]);
});

test('ClientIP session affinity: recent --rcheck rules before the statistic rules, --set on the DNAT', (t) => {
  const sticky: KubeProxyService = { ...NGINX1, sessionAffinity: { clientIP: {} } };
  for (const flavor of ['ext', 'xlb'] as const) {
    const p = buildIptablesRestore(kproxyInput({ flavor, services: [sticky] }));
    const svc = rulesOf(p, 'nat', N1.svc).filter((r) => !r.includes('KUBE-MARK-MASQ'));
    t.is(svc.length, 4, flavor);
    t.regex(svc[0]!, new RegExp(`-m recent --name ${N1.sepA} --rcheck --seconds 10800 --reap -j ${N1.sepA}$`));
    t.regex(svc[1]!, new RegExp(`-m recent --name ${N1.sepB} --rcheck --seconds 10800 --reap -j ${N1.sepB}$`));
    t.regex(svc[2]!, /--probability 0\.5000000000/);
    t.regex(rulesOf(p, 'nat', N1.sepA)[1]!, new RegExp(`-m recent --name ${N1.sepA} --set -m tcp -p tcp -j DNAT --to-destination 10.217.11.5:80$`));
  }
  const ext = buildIptablesRestore(kproxyInput({ services: [sticky] }));
  t.true(ext.includes(`-A ${N1.svc} -m comment --comment "default/nginx-demo-1 -> 10.217.11.5:80" -m recent --name ${N1.sepA} --rcheck`));
});

test('three endpoints get 1/3 then 1/2 then unconditional', (t) => {
  const three: KubeProxyService = {
    ...NGINX1,
    externalIPs: [],
    endpoints: [
      { ip: '10.217.11.5', nodeName: 'worker-a' },
      { ip: '10.217.120.72', nodeName: 'worker-b' },
      { ip: '10.217.11.10', nodeName: 'worker-a' },
    ],
  };
  const res = buildKubeProxyIptables(kproxyInput({ services: [three] }));
  const lb = rulesOf(res.payload, 'nat', N1.svc).slice(1);
  // String sort: "10.217.11.10:80" < "10.217.11.5:80" < "10.217.120.72:80".
  t.regex(lb[0]!, /-> 10\.217\.11\.10:80" -m statistic --mode random --probability 0\.3333333333 -j/);
  t.regex(lb[1]!, /-> 10\.217\.11\.5:80" -m statistic --mode random --probability 0\.5000000000 -j/);
  t.notRegex(lb[2]!, /statistic/);
  t.deepEqual(
    res.servicePorts[0]!.clusterEndpoints.map((e) => e.probabilityReadBack),
    ['0.33333333349', '0.50000000000', undefined],
  );
});

test('duplicate endpoints are collapsed like kube-proxy’s endpoint map', (t) => {
  const dup: KubeProxyService = { ...NGINX1, endpoints: [...NGINX1.endpoints, { ip: '10.217.11.5', nodeName: 'worker-a' }] };
  const p = buildIptablesRestore(kproxyInput({ services: [dup] }));
  t.is(rulesOf(p, 'nat', N1.svc).length, 3);
});

test('large cluster mode (>1000 endpoints) drops the per-endpoint comments', (t) => {
  const endpoints = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.217.${(i >> 8) & 255}.${i & 255}`, nodeName: 'worker-b' }));
  const big: KubeProxyService = { ...NGINX1, externalIPs: [], endpoints };
  const p = buildIptablesRestore(kproxyInput({ services: [big] }));
  const svc = rulesOf(p, 'nat', N1.svc);
  t.is(svc.length, 1002);
  t.true(svc[0]!.includes('cluster IP'), 'the cluster IP rule keeps its comment');
  t.false(svc[1]!.includes('-m comment'));
  t.regex(svc[1]!, /^-A KUBE-SVC-\S+ -m statistic --mode random --probability 0\.0009990010 -j KUBE-SEP-/);
});

test('nodePortAddresses and localhostNodePorts shape the last KUBE-SERVICES rule', (t) => {
  const p = buildIptablesRestore(kproxyInput({ localhostNodePorts: false }));
  t.regex(rulesOf(p, 'nat', 'KUBE-SERVICES').at(-1)!, /-m addrtype --dst-type LOCAL ! -d 127\.0\.0\.0\/8 -j KUBE-NODEPORTS$/);
  const p2 = buildIptablesRestore(kproxyInput({ nodePortAddresses: ['192.168.64.57'] }));
  t.is(
    rulesOf(p2, 'nat', 'KUBE-SERVICES').at(-1),
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.64.57 -j KUBE-NODEPORTS',
  );
});

test('stale service chains from a previous sync are flushed and deleted', (t) => {
  const stale = endpointChainName('default/old', 'tcp', '10.217.1.1:80');
  const p = buildIptablesRestore(kproxyInput({ existingNatChains: ['KUBE-SERVICES', N1.svc, stale, 'CALI-PREROUTING'] }));
  const nat = table(p, 'nat');
  t.true(nat.chains.includes(stale));
  t.true(nat.other.includes(`-X ${stale}`));
  t.false(nat.other.includes(`-X ${N1.svc}`));
  t.false(nat.other.some((l) => l.includes('CALI-')));
});

// ---------------------------------------------------------------------------------------------
// Payload structure
// ---------------------------------------------------------------------------------------------

for (const flavor of ['ext', 'xlb'] as const) {
  test(`${flavor}: every table ends with COMMIT, chains declared once, every jump target declared`, (t) => {
    const sticky: KubeProxyService = {
      ...NGINX1,
      name: 'sticky',
      sessionAffinity: { clientIP: { timeoutSeconds: 60 } },
    };
    const lb: KubeProxyService = {
      ...NGINX2,
      name: 'lb',
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      loadBalancerIPs: ['203.0.113.10'],
      loadBalancerSourceRanges: ['192.168.64.0/24'],
      healthCheckNodePort: 32000,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
    };
    const udp: KubeProxyService = {
      namespace: 'kube-system',
      name: 'kube-dns',
      clusterIP: '10.196.0.10',
      externalIPs: [],
      externalTrafficPolicy: 'Cluster',
      ports: [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
      ],
      endpoints: [{ ip: '10.217.11.2', nodeName: 'worker-a' }],
    };
    const res = buildKubeProxyIptables(kproxyInput({ flavor, services: [NGINX1, NGINX2, sticky, lb, udp] }));
    const lines = res.payload.trimEnd().split('\n');
    const starts = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('*'));
    t.deepEqual(starts.map(([l]) => l), ['*filter', '*nat', '*mangle']);
    for (const [, i] of starts.slice(1)) t.is(lines[i - 1], 'COMMIT');
    t.is(lines.at(-1), 'COMMIT');
    t.true(res.payload.endsWith('COMMIT\n'));

    for (const [name, tb] of parsePayload(res.payload)) {
      t.is(new Set(tb.chains).size, tb.chains.length, `${name}: duplicate chain declaration`);
      const declared = new Set(tb.chains);
      const ruleLines = [...[...tb.rules.values()].flat(), ...tb.inserts];
      for (const r of ruleLines) {
        const words = r.split(' ');
        const chain = r.startsWith('-I') ? words[1]! : words[1]!;
        t.true(BUILTIN.has(chain) || declared.has(chain), `${name}: rule in undeclared chain: ${r}`);
        const j = words.indexOf('-j');
        if (j >= 0) {
          const target = words[j + 1]!;
          t.true(TARGETS.has(target) || declared.has(target), `${name}: jump to undeclared ${target}: ${r}`);
        }
      }
      t.deepEqual(tb.other.filter((l) => !l.startsWith('-X ')), [], `${name}: unexpected lines`);
    }
    t.deepEqual(res.chains.mangle, ['KUBE-PROXY-CANARY']);
    t.true(res.chains.nat.includes('KUBE-PROXY-CANARY'));
    t.true(res.chains.filter.includes('KUBE-PROXY-CANARY'));
    t.is(res.servicePorts.length, 6);
    t.true(res.payload.includes('-p udp'), 'UDP service');
    t.is(
      res.servicePorts.find((s) => s.servicePortName === 'kube-system/kube-dns:dns')!.svcChain,
      'KUBE-SVC-TCOU7JCQXEZGVUNU',
    );
  });
}

test('jump modes: insert reproduces the Prepend order, append writes the final order, none writes nothing', (t) => {
  const insert = table(buildIptablesRestore(kproxyInput({ jumps: 'insert' })), 'filter').inserts;
  // Simulate `-I CHAIN 1` to compute the resulting order.
  const simulated = new Map<string, string[]>();
  for (const l of insert) {
    const m = /^-I (\S+) 1 (.*)$/.exec(l);
    t.truthy(m, l);
    const list = simulated.get(m![1]!) ?? [];
    list.unshift(m![2]!);
    simulated.set(m![1]!, list);
  }
  const appended = table(buildIptablesRestore(kproxyInput({ jumps: 'append' })), 'filter');
  for (const chain of ['INPUT', 'FORWARD', 'OUTPUT']) {
    t.deepEqual(
      (appended.rules.get(chain) ?? []).map((r) => r.replace(`-A ${chain} `, '')),
      simulated.get(chain),
      chain,
    );
  }
  // A node where kubelet ran first: INPUT = KUBE-PROXY-FIREWALL, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-FIREWALL.
  t.deepEqual(
    (appended.rules.get('INPUT') ?? []).map((r) => r.split(' -j ')[1]),
    ['KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL'],
  );
  t.deepEqual(rulesOf(buildIptablesRestore(kproxyInput({ jumps: 'append' })), 'nat', 'PREROUTING'), [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  ]);
  const none = buildIptablesRestore(kproxyInput({ jumps: 'none' }));
  for (const tb of parsePayload(none).values()) {
    t.deepEqual(tb.inserts, []);
    t.false([...tb.rules.keys()].some((c) => BUILTIN.has(c)));
  }
  // 1.23 has no KUBE-PROXY-FIREWALL jumps.
  t.false(jumpSequence('xlb', true).some((j) => j.args.includes('KUBE-PROXY-FIREWALL')));
  t.is(jumpSequence('ext', true).filter((j) => j.args === '-j KUBE-FIREWALL').length, 2, 'kubelet jumps deduplicated');
});

// ---------------------------------------------------------------------------------------------
// Golden: kubernetes' own TestOverallIPTablesRulesWithMultipleServices
// ---------------------------------------------------------------------------------------------

/**
 * Expected output copied from kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go,
 * TestOverallIPTablesRulesWithMultipleServices (≈v1.28; FakeProxier: node "test-hostname", node IP
 * 192.168.0.2, local detector 10.0.0.0/8, masqueradeMark hard-coded "0x4000", no --random-fully,
 * localhost NodePorts on). kube-proxy's assertIPTablesRulesEqual compares chain by chain; so does this.
 */
const K8S_GOLDEN = `
*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]
:KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-C6EBXVWJJZMIWKLZ - [0:0]
:KUBE-SEP-I77PXRDZVX7PMWMN - [0:0]
:KUBE-SEP-OYPFS5VJICHGATKP - [0:0]
:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SEP-UKSFD7AGPMPPLUHC - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-X27LE4BHSL4DOUIK
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVC-X27LE4BHSL4DOUIK
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.5:80
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-UKSFD7AGPMPPLUHC -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j KUBE-SEP-C6EBXVWJJZMIWKLZ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-RS4RBKLTHTF2IUXJ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> 10.180.0.3:80" -j KUBE-SEP-I77PXRDZVX7PMWMN
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.180.0.3:80" -j KUBE-SEP-OYPFS5VJICHGATKP
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
COMMIT
`;

test('golden: reproduces kubernetes TestOverallIPTablesRulesWithMultipleServices chain by chain', (t) => {
  const port = (nodePort?: number) => [{ name: 'p80', protocol: 'TCP' as const, port: 80, targetPort: 80, ...(nodePort ? { nodePort } : {}) }];
  const host = 'test-hostname';
  const input: KubeProxyIptablesInput = {
    nodeName: host,
    nodeIPs: ['192.168.0.2'],
    clusterCIDR: '10.0.0.0/8',
    randomFully: false,
    jumps: 'none',
    canary: false,
    services: [
      { namespace: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', externalIPs: [], externalTrafficPolicy: 'Cluster', ports: port(), endpoints: [{ ip: '10.180.0.1', nodeName: '' }] },
      {
        namespace: 'ns2', name: 'svc2', type: 'LoadBalancer', clusterIP: '172.30.0.42', externalIPs: ['192.168.99.22'],
        externalTrafficPolicy: 'Local', loadBalancerIPs: ['1.2.3.4'], healthCheckNodePort: 30000, ports: port(3001),
        // No NodeName → non-local, so the Local policy has no endpoints on this node.
        endpoints: [{ ip: '10.180.0.2', nodeName: '' }],
      },
      { namespace: 'ns3', name: 'svc3', type: 'NodePort', clusterIP: '172.30.0.43', externalIPs: [], externalTrafficPolicy: 'Cluster', ports: port(3003), endpoints: [{ ip: '10.180.0.3', nodeName: '' }] },
      {
        namespace: 'ns4', name: 'svc4', type: 'NodePort', clusterIP: '172.30.0.44', externalIPs: ['192.168.99.33'], externalTrafficPolicy: 'Cluster', ports: port(),
        endpoints: [{ ip: '10.180.0.4', nodeName: '' }, { ip: '10.180.0.5', nodeName: host }],
      },
      {
        namespace: 'ns5', name: 'svc5', type: 'LoadBalancer', clusterIP: '172.30.0.45', externalIPs: [], externalTrafficPolicy: 'Cluster',
        loadBalancerIPs: ['5.6.7.8'], healthCheckNodePort: 30000, loadBalancerSourceRanges: [' 203.0.113.0/25'], ports: port(3002),
        endpoints: [{ ip: '10.180.0.3', nodeName: '' }],
      },
      { namespace: 'ns6', name: 'svc6', clusterIP: '172.30.0.46', externalIPs: [], externalTrafficPolicy: 'Cluster', ports: port(), endpoints: [] },
    ],
  };
  // The fake proxier hard-codes masqueradeMark "0x4000"; the real one formats "%#08x" → "0x00004000".
  const ours = buildIptablesRestore(input).replaceAll('0x00004000', '0x4000');
  const got = parsePayload(ours);
  const want = parsePayload(K8S_GOLDEN);
  t.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    t.deepEqual([...g.chains].sort(), [...w.chains].sort(), `${name} chains`);
    t.deepEqual([...g.rules.keys()].sort(), [...w.rules.keys()].sort(), `${name} chains with rules`);
    for (const [chain, rules] of w.rules) t.deepEqual(g.rules.get(chain), rules, `${name} ${chain}`);
    t.deepEqual(g.other, w.other);
  }
});
