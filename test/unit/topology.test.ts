// The loader: schema errors and semantic errors name file, line, field and the bad value.
import test from 'ava';
import path from 'node:path';
import { InputError } from '../../lab/errors.ts';
import { loadTopology, parseTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { catalogFiles } from '../../lab/catalog.ts';

const bad = (f: string) => path.join(import.meta.dirname, '..', 'fixtures', 'bad', f);

function issuesOf(file: string) {
  const err = (() => {
    try {
      loadTopology(file);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof InputError)) throw new Error(`expected an InputError from ${file}`);
  return err;
}

test('every shipped topology loads', (t) => {
  const files = catalogFiles();
  t.true(files.length >= 1);
  for (const f of files) t.notThrows(() => loadTopology(f), f);
});

test('an unknown field is reported with its line and name', (t) => {
  const e = issuesOf(bad('unknown-field.yaml'));
  t.is(e.exitCode, 2);
  const i = e.issues.find((x) => x.message.includes('unknown field "colour"'));
  t.truthy(i, e.message);
  t.is(i!.line, 12);
  t.is(i!.field, 'cluster.nodes[0].enis[0].colour');
  t.true(e.message.startsWith(`${bad('unknown-field.yaml')}:12:`));
});

test('an interface name over 15 bytes is refused with the kernel limit explained', (t) => {
  const e = issuesOf(bad('long-ifname.yaml'));
  const i = e.issues.find((x) => x.field === 'cluster.nodes[0].enis[1].name');
  t.truthy(i, e.message);
  t.is(i!.line, 13);
  t.regex(i!.message, /15/);
  t.regex(i!.message, /averyveryverylongeni/);
});

test('shell metacharacters in a name are refused before anything is built', (t) => {
  const e = issuesOf(bad('shell-name.yaml'));
  const i = e.issues.find((x) => x.field === 'cluster.nodes[0].name');
  t.truthy(i, e.message);
  t.regex(i!.message, /rm -rf/);
  t.is(i!.line, 10);
});

test('semantic errors: dangling references, duplicate IPs, overlapping vSwitches', (t) => {
  const e = issuesOf(bad('semantic.yaml'));
  const msgs = e.issues.map((i) => `${i.line} ${i.field}: ${i.message}`).join('\n');
  t.regex(msgs, /cluster\.vpc\.vswitches\[1\]\.cidr: 10\.0\.0\.0\/16 overlaps vswitch vsw-a/);
  t.regex(msgs, /cluster\.nodes\[0\]\.enis\[1\]\.vswitch: unknown vswitch "vsw-z"/);
  t.regex(msgs, /cluster\.pods\[0\]\.ip: duplicate IP 10\.0\.1\.82: already used by node ecs1/);
  t.regex(msgs, /cluster\.pods\[1\]\.node: unknown node "ecs9"/);
  t.regex(msgs, /scenarios\[0\]\.probes\[0\]\.from: "nobody" is not a node, pod or client/);
  t.regex(msgs, /scenarios\[0\]\.probes\[0\]\.to: unknown service "missing"/);
  for (const i of e.issues) t.true(i.line > 0, `issue without a line: ${i.field}`);
});

test('broken YAML is reported with its position', (t) => {
  const e = issuesOf(bad('not-yaml.yaml'));
  t.is(e.issues[0]!.field, '(yaml)');
  t.true(e.issues[0]!.line >= 3);
});

test('a missing file is an input error, not a crash', (t) => {
  const e = issuesOf(bad('does-not-exist.yaml'));
  t.regex(e.message, /cannot read/);
});

test('defaults: primary ENI, gateway .253, traffic policy, endpoints from the selector', (t) => {
  const topo = loadTopology(path.join(TOPOLOGY_DIR, 'eniip.yaml'));
  const c = topo.cluster;
  t.is(c.vswitches[0]!.gateway, '10.0.1.253');
  t.true(c.nodes[0]!.enis[0]!.primary);
  t.false(c.nodes[0]!.enis[1]!.primary);
  const nginx = c.services.find((s) => s.name === 'nginx')!;
  t.deepEqual(nginx.endpoints, ['nginx-a', 'nginx-b']);
  t.is(nginx.externalTrafficPolicy, 'Local');
});

test('a pod IP outside its ENI vSwitch is refused', (t) => {
  const text = `apiVersion: datapath-lab/v1
family: x
title: x
cluster:
  datapath: { kind: eniip }
  vpc: { vswitches: [{ name: vsw-a, cidr: 10.0.1.0/24 }] }
  nodes:
    - { name: n1, enis: [{ name: eth0, vswitch: vsw-a, ip: 10.0.1.2 }, { name: eth1, vswitch: vsw-a }] }
  pods:
    - { name: p1, node: n1, eni: eth1, ip: 10.9.9.9 }
scenarios:
  - { id: x-1, title: t, probes: [{ from: n1, to: p1, port: 80 }] }
`;
  const err = t.throws(() => parseTopology(text, 'inline.yaml'), { instanceOf: InputError });
  t.regex(err!.message, /inline\.yaml:10:\d+: cluster\.pods\[0\]\.ip: 10\.9\.9\.9 is not inside eth1's vswitch vsw-a/);
});
