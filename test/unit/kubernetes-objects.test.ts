/**
 * Kubernetes objects as input (lab/kubernetes/): manifests as kubectl prints them, merged into a
 * topology by name, every contradiction located; every Service feature from the topology into both
 * kube-proxy builders; `lab import`'s starter topology.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { InputError } from '../../lab/errors.ts';
import { importDumpFile } from '../../lab/kubernetes/import.ts';
import { parseManifests, readManifests } from '../../lab/kubernetes/manifests.ts';
import { readClusterObjects } from '../../lab/kubernetes/objects.ts';
import { ipvsTablesForNode } from '../../lab/services/ipvs/index.ts';
import { kubeProxyTablesForNode } from '../../lab/services/kubeproxy-iptables.ts';
import { loadTopology } from '../../lab/topology/load.ts';
import type { Topology } from '../../lab/model.ts';

const DUMP = fileURLToPath(new URL('../fixtures/k8s/cluster-dump.yaml', import.meta.url));

function inTmp<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-k8s-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Calico topology with one rack; `extra` goes under cluster:, services/pods replace the defaults. */
function topology(extra: string, pods = DEFAULT_PODS, services = ''): string {
  return `apiVersion: datapath-lab/v1
family: t
title: t
cluster:
  datapath: { kind: calico }
  serviceProxy: { kind: iptables, clusterCIDR: 10.244.0.0/16 }
  vpc:
    vswitches: [{ name: vsw1, cidr: 192.168.10.0/24, gateway: 192.168.10.253 }]
  routers: [{ name: tor1, as: 64512, ip: 192.168.10.253, vswitch: vsw1 }]
  nodes:
    - { name: node-a, rack: tor1, podCIDR: 10.244.1.0/24, enis: [{ name: eth0, vswitch: vsw1, ip: 192.168.10.11 }] }
    - { name: node-b, rack: tor1, podCIDR: 10.244.2.0/24, enis: [{ name: eth0, vswitch: vsw1, ip: 192.168.10.12 }] }
${pods}${services}${extra}scenarios:
  - id: s1
    title: s1
    probes: [{ from: node-a, to: node-b }]
`;
}
const DEFAULT_PODS = `  pods:
    - { name: client, node: node-a, ip: 10.244.1.30 }
`;

function load(text: string, extraFiles: Record<string, string> = {}): Topology {
  return inTmp({ 'topo.yaml': text, ...extraFiles }, (dir) => loadTopology(path.join(dir, 'topo.yaml')));
}

function loadError(text: string, extraFiles: Record<string, string> = {}): InputError {
  const err = inTmp({ 'topo.yaml': text, ...extraFiles }, (dir) => {
    try {
      loadTopology(path.join(dir, 'topo.yaml'));
    } catch (e) {
      return e;
    }
    return undefined;
  });
  if (!(err instanceof InputError)) throw new Error(`expected an InputError, got ${String(err)}`);
  return err;
}

test('a v1 List, multi-document YAML and JSON hold the same objects, each located in its own file', (t) => {
  const list = readManifests(DUMP);
  const items = (parse(readFileSync(DUMP, 'utf8')) as { items: unknown[] }).items;
  const multi = parseManifests(items.map((i) => stringify(i)).join('---\n'), 'multi.yaml');
  const json = parseManifests(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2), 'dump.json');
  const key = (o: { kind: string; namespace: string; name: string }) => `${o.kind}/${o.namespace}/${o.name}`;
  t.deepEqual(multi.map(key), list.map(key));
  t.deepEqual(json.map(key), list.map(key));
  t.deepEqual(json.map((o) => o.raw), list.map((o) => o.raw));
  // Positions point into each text: the web Service's clusterIP.
  const web = list.find((o) => o.kind === 'Service' && o.name === 'web')!;
  const line = readFileSync(DUMP, 'utf8').split('\n').findIndex((l) => l.includes('clusterIP: 10.96.20.20')) + 1;
  t.is(web.at(['spec', 'clusterIP']).line, line);
  const webJson = json.find((o) => o.kind === 'Service' && o.name === 'web')!;
  t.true(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2).split('\n')[webJson.at(['spec', 'clusterIP']).line - 1]!.includes('"10.96.20.20"'));
});

test('bad manifests: exit 2 at file:line with the object, the field and what was expected', (t) => {
  const text = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.96.20.300
  ports: [{ port: 80, protocol: QUIC }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: x, namespace: shop }
addressType: IPv6
endpoints: []
`;
  const err = t.throws(() => readClusterObjects(parseManifests(text, 'm.yaml')), { instanceOf: InputError }) as InputError;
  t.is(err.exitCode, 2);
  t.regex(err.message, /^m\.yaml:5:14: Service shop\/web\.spec\.clusterIP: "10\.96\.20\.300" is not an IPv4 address/m);
  t.regex(err.message, /^m\.yaml:6:\d+: Service shop\/web\.spec\.ports\[0\]\.protocol: protocol "QUIC": expected TCP, UDP or SCTP/m);
  t.regex(err.message, /^m\.yaml:10:\d+: EndpointSlice shop\/x\.metadata\.labels: missing the kubernetes\.io\/service-name label/m);
  t.regex(err.message, /^m\.yaml:11:\d+: EndpointSlice shop\/x\.addressType: "IPv6": this lab models IPv4 only/m);
  t.throws(() => parseManifests('a: [1,\n', 'broken.yaml'), { instanceOf: InputError, message: /^broken\.yaml:\d+:\d+: \(yaml\)/ });
});

test('cluster.manifests: nodes, pods and services merged by name; slices replace the selector', (t) => {
  const topo = load(topology('  manifests: [dump.yaml]\n', ''), { 'dump.yaml': readFileSync(DUMP, 'utf8') });
  t.deepEqual(topo.cluster.pods.map((p) => `${p.namespace}/${p.name}@${p.node}=${p.ip}`).sort(), [
    'shop/toolbox@node-a=10.244.1.30', 'shop/web-5d4f8c7b9-7xk2p@node-a=10.244.1.10', 'shop/web-5d4f8c7b9-q2m9z@node-b=10.244.2.20',
  ]);
  const web = topo.cluster.pods.find((p) => p.name === 'web-5d4f8c7b9-7xk2p')!;
  t.deepEqual([web.listen, web.namedPorts, web.labels['app']], [[8080], { http: 8080 }, 'web']);
  const k = topo.cluster.services.find((s) => s.name === 'kubernetes')!;
  t.deepEqual(k.endpoints, [], 'the API server endpoint is no modelled pod');
  t.deepEqual(k.sliceEndpoints?.map((e) => e.ip), ['192.168.10.11']);
  // kube-proxy still programs it; the named targetPort comes from the slice (8080).
  const ipt = kubeProxyTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[0]!).payload;
  t.regex(ipt, /-j DNAT --to-destination 192\.168\.10\.11:6443/);
  t.regex(ipt, /"shop\/web:http -> 10\.244\.2\.20:8080"/);
});

test('contradictions between manifests and the topology: exit 2 at the manifest line, naming the topology line', (t) => {
  const pods = `  pods:
    - { name: toolbox, namespace: shop, node: node-b, ip: 10.244.2.99, labels: { app: other } }
`;
  const services = `  services:
    - { name: web, namespace: shop, clusterIP: 10.96.20.21, ports: [{ port: 80 }] }
`;
  const err = loadError(topology('  manifests: [dump.yaml]\n', pods, services), { 'dump.yaml': readFileSync(DUMP, 'utf8') });
  t.is(err.exitCode, 2);
  const m = err.message;
  t.regex(m, /dump\.yaml:\d+:\d+: Pod shop\/toolbox\.spec\.nodeName: nodeName node-a is not node-b \(the topology says otherwise at .*topo\.yaml:\d+\)/);
  t.regex(m, /dump\.yaml:\d+:\d+: Pod shop\/toolbox\.status\.podIP: podIP 10\.244\.1\.30 is not 10\.244\.2\.99/);
  t.regex(m, /dump\.yaml:\d+:\d+: Pod shop\/toolbox\.metadata\.labels\.app: label app=toolbox is not other/);
  t.regex(m, /dump\.yaml:\d+:\d+: Service shop\/web\.spec\.clusterIP: clusterIP 10\.96\.20\.20 is not 10\.96\.20\.21/);
  // A node whose InternalIP is no vSwitch's, and a slice of an unknown Service.
  const stray = `apiVersion: v1
kind: Node
metadata: { name: node-c }
status: { addresses: [{ type: InternalIP, address: 172.16.0.5 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ghost-1, namespace: shop, labels: { kubernetes.io/service-name: ghost } }
addressType: IPv4
endpoints: [{ addresses: [10.244.1.50] }]
`;
  const err2 = loadError(topology('  manifests: [stray.yaml]\n'), { 'stray.yaml': stray });
  t.regex(err2.message, /stray\.yaml:4:\d+: Node node-c\.status\.addresses: InternalIP 172\.16\.0\.5 is in no vSwitch/);
  t.regex(err2.message, /stray\.yaml:8:\d+: EndpointSlice shop\/ghost-1\.metadata\.labels: belongs to Service shop\/ghost, which no manifest holds/);
  t.regex(loadError(topology('  manifests: [missing.yaml]\n')).message, /missing\.yaml:1:1: \(file\): cannot read/);
});

const FEATURE_PODS = `  pods:
    - { name: client, node: node-a, ip: 10.244.1.30 }
    - { name: web-a, node: node-a, ip: 10.244.1.10, labels: { app: web }, listen: [8080], listenSctp: [8080], namedPorts: { http: 8080 } }
    - { name: web-b, node: node-b, ip: 10.244.2.20, labels: { app: web }, listen: [8080], listenSctp: [8080], namedPorts: { http: 8080 }, ready: false, terminating: true }
`;
const FEATURE_SERVICES = `  services:
    - name: web
      namespace: shop
      type: LoadBalancer
      clusterIP: 10.96.20.20
      selector: { app: web }
      externalTrafficPolicy: Local
      internalTrafficPolicy: Local
      loadBalancerIPs: [198.51.100.7]
      loadBalancerSourceRanges: [203.0.113.0/24]
      healthCheckNodePort: 32000
      sessionAffinity: ClientIP
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }
      ports:
        - { name: http, port: 80, targetPort: http, nodePort: 31080 }
        - { name: assoc, protocol: SCTP, port: 9000, targetPort: 8080 }
`;

test('Service features from the topology reach kube-proxy\'s iptables rules', (t) => {
  const topo = load(topology('', FEATURE_PODS, FEATURE_SERVICES));
  const web = topo.cluster.services[0]!;
  t.deepEqual([web.type, web.internalTrafficPolicy, web.sessionAffinityTimeout, web.healthCheckNodePort], ['LoadBalancer', 'Local', 600, 32000]);
  const a = kubeProxyTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[0]!);
  const svl = a.servicePorts[0]!.svlChain;
  const fw = a.servicePorts[0]!.fwChain;
  // internalTrafficPolicy Local: the cluster IP goes to KUBE-SVL with node-a's own endpoint only.
  t.regex(a.payload, new RegExp(`"shop/web:http cluster IP" -m tcp -p tcp -d 10\\.96\\.20\\.20 --dport 80 -j ${svl}`));
  // The named targetPort resolved through the pod's namedPorts; ClientIP affinity with its timeout.
  t.regex(a.payload, new RegExp(`-A ${svl} -m comment --comment "shop/web:http -> 10\\.244\\.1\\.10:8080" -m recent --name KUBE-SEP-\\w+ --rcheck --seconds 600 --reap`));
  // The load balancer IP through KUBE-FW (loadBalancerSourceRanges), dropped by KUBE-PROXY-FIREWALL otherwise.
  t.regex(a.payload, new RegExp(`"shop/web:http loadbalancer IP" -m tcp -p tcp -d 198\\.51\\.100\\.7 --dport 80 -j ${fw}`));
  t.regex(a.payload, new RegExp(`-A ${fw} -m comment --comment "shop/web:http loadbalancer IP" -s 203\\.0\\.113\\.0/24 -j KUBE-EXT-`));
  t.regex(a.payload, /-A KUBE-NODEPORTS -m comment --comment "shop\/web:http health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT/);
  // SCTP: its own chains and match.
  t.regex(a.payload, /-m sctp -p sctp -d 10\.96\.20\.20 --dport 9000/);
  // node-b: its only endpoint is terminating (not ready, serving false: pod not ready) → no local endpoint → DROP.
  const b = kubeProxyTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[1]!).payload;
  t.regex(b, /"shop\/web:http has no local endpoints" -m tcp -p tcp -d 10\.96\.20\.20 --dport 80 -j DROP/);
});

test('terminating endpoints: kube-proxy falls back to serving ones when none is ready', (t) => {
  const pods = `  pods:
    - { name: client, node: node-a, ip: 10.244.1.30 }
    - { name: web-b, node: node-b, ip: 10.244.2.20, labels: { app: web }, listen: [8080], terminating: true }
`;
  const services = `  services:
    - { name: web, clusterIP: 10.96.20.20, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
`;
  const topo = load(topology('', pods, services));
  const p = kubeProxyTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[0]!);
  t.deepEqual(p.servicePorts[0]!.clusterEndpoints.map((e) => e.endpoint), ['10.244.2.20:8080']);
  t.regex(p.payload, /-j DNAT --to-destination 10\.244\.2\.20:8080/);
});

test('--nodeport-addresses, --masquerade-all and the node port range', (t) => {
  const services = `  services:
    - { name: np, clusterIP: 10.96.20.30, selector: { app: web }, ports: [{ port: 80, targetPort: 8080, nodePort: 8080 }] }
`;
  const pods = `  pods:
    - { name: web-a, node: node-a, ip: 10.244.1.10, labels: { app: web }, listen: [8080] }
`;
  const err = loadError(topology('', pods, services));
  t.regex(err.message, /cluster\.services\[0\]\.ports\[0\]\.nodePort: nodePort 8080 is outside the node port range 30000-32767/);
  const text = topology('', pods, services).replace('serviceProxy: { kind: iptables, clusterCIDR: 10.244.0.0/16 }',
    'serviceProxy: { kind: iptables, clusterCIDR: 10.244.0.0/16, nodePortRange: 8000-9000, nodePortAddresses: [192.168.10.0/24], masqueradeAll: true }');
  const topo = load(text);
  const payload = kubeProxyTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[0]!).payload;
  t.regex(payload, /-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192\.168\.10\.11 -j KUBE-NODEPORTS/);
  t.notRegex(payload, /--dst-type LOCAL -j KUBE-NODEPORTS/);
  t.regex(payload, /"default\/np cluster IP" -m tcp -p tcp -d 10\.96\.20\.30 --dport 80 -j KUBE-MARK-MASQ/);
});

test('IPVS mode: ClientIP affinity is a persistent virtual server; load-balancer IPs get VIPs, a set and rules', (t) => {
  const topo = load(topology('', FEATURE_PODS, FEATURE_SERVICES).replace('kind: iptables', 'kind: ipvs'));
  const x = ipvsTablesForNode({ cluster: topo.cluster }, topo.cluster.nodes[0]!);
  t.regex(x.ipvsadm, /^-A -t 10\.96\.20\.20:80 -s rr -p 600$/m);
  t.regex(x.ipvsadm, /^-A --sctp-service 10\.96\.20\.20:9000 -s rr -p 600$/m);
  t.regex(x.ipvsadm, /^-A -t 198\.51\.100\.7:80 -s rr -p 600$/m);
  t.true(x.vips.includes('198.51.100.7'));
  t.regex(x.ipset, /^add KUBE-LOAD-BALANCER 198\.51\.100\.7,tcp:80$/m);
  t.regex(x.ipset, /^add KUBE-LOAD-BALANCER-LOCAL 198\.51\.100\.7,tcp:80$/m);
  t.regex(x.iptables, /--match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER/);
});

test('lab import: vSwitches by subnet, racks, the release and the cluster CIDR, the dump as manifests', (t) => {
  {
    const text = importDumpFile(DUMP);
    const y = parse(text) as { cluster: Record<string, unknown>; scenarios: { id: string; probes: { from: string; to: string }[] }[] };
    t.deepEqual(y.cluster['vpc'], { vswitches: [{ name: 'vsw1', cidr: '192.168.10.0/24', gateway: '192.168.10.253' }] });
    t.deepEqual(y.cluster['serviceProxy'], { kind: 'iptables', clusterCIDR: '10.244.0.0/22', version: '1.28.3' });
    t.deepEqual(y.scenarios.map((s) => [s.id, s.probes[0]!.from, s.probes[0]!.to]), [['svc-web', 'toolbox', 'svc/web:clusterIP']]);
    t.is((y.cluster['manifests'] as string[])[0], path.relative(process.cwd(), DUMP));
  }
  // A name that cannot become a namespace is refused at its line.
  const bad = readFileSync(DUMP, 'utf8').replace('name: node-b', 'name: node-b.example.internal');
  inTmp({ 'dump.yaml': bad }, (dir) => {
    const err = t.throws(() => importDumpFile(path.join(dir, 'dump.yaml')), { instanceOf: InputError }) as InputError;
    t.regex(err.message, /dump\.yaml:\d+:\d+: Node node-b\.example\.internal\.metadata\.name: "node-b\.example\.internal" cannot name a lab object/);
  });
});
