import test from 'ava';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import { loadTopology } from '../../lab/topology/load.ts';
import { dot, links, mermaid, pathLinks } from '../../lab/report/diagram.ts';
import type { Hop } from '../../lab/checks/types.ts';

const topo = loadTopology(path.join(import.meta.dirname, '..', 'fixtures', 'good', 'eniip-noservices.yaml'));
const plan = compileScenario(topo, topo.scenarios[1], 'd1').plan;
const hop = (object: string, ifname: string, dir: 'In' | 'Out', kind: Hop['kind']): Hop => ({ object, ifname, dir, kind, src: 'a', dst: 'b', label: `${object}:${ifname}` });

test('one link per veth pair, named by both ends', (t) => {
  const ls = links(plan);
  t.is(ls.length, plan.interfaces.filter((i) => i.peer).length / 2);
  t.true(ls.some((l) => l.a.object === 'client' && l.b.object === 'slb'));
});

test('the observed path highlights exactly the links it crossed', (t) => {
  const hops = [hop('client', 'eth0', 'Out', 'client'), hop('slb', 'client', 'In', 'slb'), hop('slb', 'vpc', 'Out', 'slb'), hop('vpc', 'slb', 'In', 'router')];
  const used = pathLinks(plan, hops).map((i) => links(plan)[i]!);
  t.deepEqual(used.map((l) => [l.a.object, l.b.object].sort().join('-')), ['client-slb', 'slb-vpc']);
  const m = mermaid(plan, hops);
  t.regex(m, /^flowchart LR/);
  t.regex(m, /linkStyle \d+,\d+ stroke:#d62728/);
  t.regex(m, /%% observed request path: client → slb → vpc/);
  const d = dot(plan, hops);
  t.is((d.match(/color="#d62728"/g) ?? []).length, 2);
  t.regex(d, /subgraph cluster_\d+ \{ label="ecs2"/);
});
