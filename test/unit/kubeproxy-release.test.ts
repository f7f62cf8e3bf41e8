/**
 * kube-proxy by release (lab/services/iptables/release.ts): each difference between releases shows in
 * the payload built for that release, and nowhere else.
 */
import test from 'ava';
import {
  buildIptablesRestore,
  buildKubeProxyIptables,
  DEFAULT_KUBE_PROXY_VERSION,
  isKubeProxyVersion,
  portProtoHash,
  releaseFeatures,
} from '../../lab/services/iptables/index.ts';
import type { KubeProxyIptablesInput, KubeProxyService } from '../../lab/services/iptables/index.ts';

function svc(name: string, portName?: string, nodePort?: number): KubeProxyService {
  return {
    namespace: 'default',
    name,
    clusterIP: '10.196.52.1',
    externalIPs: [],
    externalTrafficPolicy: 'Cluster',
    ports: [{ ...(portName ? { name: portName } : {}), protocol: 'TCP', port: 8088, targetPort: 80, ...(nodePort ? { nodePort } : {}) }],
    endpoints: [{ ip: '10.217.120.72', nodeName: 'worker-b' }],
  };
}

function input(version: string, services: KubeProxyService[], over: Partial<KubeProxyIptablesInput> = {}): KubeProxyIptablesInput {
  return { nodeName: 'worker-a', nodeIPs: ['192.168.64.57'], clusterCIDR: '10.217.0.0/16', version, services, ...over };
}

const VERSIONS = ['1.16', '1.18', '1.18.20', '1.19', '1.21', '1.23', '1.24', '1.28', '1.30', '1.31', 'v1.33.1'];

test('release boundaries: 1.19 name and mark, 1.21 masquerade placement, 1.24 layout, 1.30/1.31 nfacct', (t) => {
  const f = (v?: string) => releaseFeatures(v);
  t.true(f('1.18').spnAlwaysColon);
  t.false(f('1.19').spnAlwaysColon);
  t.is(f('1.18.20').markForm, 'set-xmark');
  t.is(f('1.19').markForm, 'or-mark');
  t.false(f('1.20').masqInServiceChain);
  t.true(f('1.21').masqInServiceChain);
  t.is(f('1.23').layout, 'xlb');
  t.is(f('1.24').layout, 'ext');
  t.false(f('1.29').nfacctCtInvalid);
  t.true(f('1.30').nfacctCtInvalid);
  t.false(f('1.30').nfacctLocalhostNodePorts);
  t.true(f('1.31').nfacctLocalhostNodePorts);
  t.is(f().version, DEFAULT_KUBE_PROXY_VERSION);
  for (const bad of ['1.15', '2.0', '1', '1.x', '1.18.', '']) {
    t.false(isKubeProxyVersion(bad), bad);
    t.throws(() => releaseFeatures(bad), { instanceOf: RangeError }, bad);
  }
});

test('the article\'s chains at 1.18, today\'s at 1.19 and later', (t) => {
  const at = (v: string) => buildKubeProxyIptables(input(v, [svc('nginx-demo-1'), svc('nginx-demo-2', undefined, 31755)])).servicePorts.map((p) => p.svcChain);
  t.deepEqual(at('1.18'), ['KUBE-SVC-JKOCBQALQGD3X3RT', 'KUBE-SVC-6JCCLZMUQSW27LLD']);
  t.deepEqual(at('1.19')[0], 'KUBE-SVC-ZY4BE2BR2EQQGD2J');
  t.deepEqual(at('1.31')[0], 'KUBE-SVC-ZY4BE2BR2EQQGD2J');
  // The 1.18 comments carry the same name: "default/nginx-demo-1: cluster IP".
  t.true(buildIptablesRestore(input('1.18', [svc('nginx-demo-1')])).includes('"default/nginx-demo-1: cluster IP"'));
});

test('a renamed service\'s chains are kube-proxy\'s hash of the new name, at every release', (t) => {
  for (const v of VERSIONS) {
    const colon = releaseFeatures(v).spnAlwaysColon;
    for (const name of ['shop-frontend', 'a', 'x'.repeat(63)]) {
      const unnamed = buildKubeProxyIptables(input(v, [svc(name)])).servicePorts[0]!;
      t.is(unnamed.svcChain, `KUBE-SVC-${portProtoHash(`default/${name}${colon ? ':' : ''}`, 'tcp')}`, `${v} ${name}`);
      // A named port is "ns/name:port" at every release.
      const named = buildKubeProxyIptables(input(v, [svc(name, 'http')])).servicePorts[0]!;
      t.is(named.svcChain, `KUBE-SVC-${portProtoHash(`default/${name}:http`, 'tcp')}`, `${v} ${name} named`);
      t.not(unnamed.svcChain, named.svcChain);
    }
  }
});

test('the masquerade machinery: one MASQUERADE rule and --set-xmark before 1.19, RETURN/--xor-mark/--or-mark since', (t) => {
  const old = buildIptablesRestore(input('1.18', [svc('s')]));
  t.true(old.includes('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x00004000/0x00004000 -j MASQUERADE --random-fully'));
  t.true(old.includes('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x00004000/0x00004000'));
  t.false(old.includes('--xor-mark'));
  const now = buildIptablesRestore(input('1.19', [svc('s')]));
  t.true(now.includes('-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN'));
  t.true(now.includes('-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000'));
  t.true(now.includes('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000'));
});

test('masquerade jumps: in KUBE-SERVICES / KUBE-NODEPORTS before 1.21, in KUBE-SVC from 1.21', (t) => {
  const s = svc('s', undefined, 31000);
  const at = (v: string) => buildKubeProxyIptables(input(v, [s]));
  const r20 = at('1.20');
  const chain20 = r20.servicePorts[0]!.svcChain;
  t.regex(r20.payload, /-A KUBE-SERVICES -m comment --comment "default\/s cluster IP" -m tcp -p tcp -d 10\.196\.52\.1 --dport 8088 ! -s 10\.217\.0\.0\/16 -j KUBE-MARK-MASQ/);
  t.regex(r20.payload, /-A KUBE-NODEPORTS -m comment --comment default\/s -m tcp -p tcp --dport 31000 -j KUBE-MARK-MASQ/);
  t.false(r20.payload.includes(`-A ${chain20} -m comment --comment "default/s cluster IP"`));
  const r21 = at('1.21');
  const chain21 = r21.servicePorts[0]!.svcChain;
  t.true(r21.payload.includes(`-A ${chain21} -m comment --comment "default/s cluster IP" -m tcp -p tcp -d 10.196.52.1 --dport 8088 ! -s 10.217.0.0/16 -j KUBE-MARK-MASQ`));
  t.false(/-A KUBE-SERVICES [^\n]*-j KUBE-MARK-MASQ/.test(r21.payload));
});

test('layout: KUBE-XLB before 1.24, KUBE-EXT from 1.24', (t) => {
  const local: KubeProxyService = { ...svc('s', undefined, 31000), externalTrafficPolicy: 'Local', type: 'NodePort' };
  t.regex(buildIptablesRestore(input('1.23', [local])), /:KUBE-XLB-/);
  t.notRegex(buildIptablesRestore(input('1.23', [local])), /KUBE-EXT-/);
  t.regex(buildIptablesRestore(input('1.24', [local])), /:KUBE-EXT-/);
  t.notRegex(buildIptablesRestore(input('1.24', [local])), /KUBE-XLB-/);
});

test('nfacct: only where kube-proxy created the counters, from 1.30 (INVALID drop) and 1.31 (localhost NodePorts)', (t) => {
  const s = svc('s', undefined, 31000);
  const invalid = /-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP/;
  const localhost = /-A KUBE-NODEPORTS -m comment --comment default\/s -m tcp -p tcp -d 127\.0\.0\.0\/8 --dport 31000 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-/;
  t.notRegex(buildIptablesRestore(input('1.31', [s])), /nfacct/, 'no counters on the node: no match');
  t.notRegex(buildIptablesRestore(input('1.29', [s], { nfacct: true })), /nfacct/);
  const p30 = buildIptablesRestore(input('1.30', [s], { nfacct: true }));
  t.regex(p30, invalid);
  t.notRegex(p30, localhost);
  const p31 = buildIptablesRestore(input('1.31', [s], { nfacct: true }));
  t.regex(p31, invalid);
  t.regex(p31, localhost);
  // --iptables-localhost-nodeports=false: no localhost rule, and the tail excludes 127.0.0.0/8.
  t.notRegex(buildIptablesRestore(input('1.31', [s], { nfacct: true, localhostNodePorts: false })), localhost);
});
