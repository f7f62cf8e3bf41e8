// The quiz's answers file (validated like a topology: exit-2 issues at file:line) and its scoring,
// which reads only a run's evidence (attempts, traced path, the capture at the server).
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProbeResult } from '../../lab/checks/analyze.ts';
import { compileScenario } from '../../lab/compile.ts';
import { InputError } from '../../lab/errors.ts';
import { loadTopology } from '../../lab/topology/load.ts';
import { readAnswers } from '../../lab/workshop/quiz-answers.ts';
import { quizProbes, quizSheet, scoreProbe } from '../../lab/workshop/quiz.ts';

const topo = loadTopology(path.join(import.meta.dirname, '..', 'fixtures', 'good', 'eniip-noservices.yaml'));
const scenario = topo.scenarios.find((s) => s.id === 'lite-slb')!;
const { plan, probes } = compileScenario(topo, scenario, '000000');
const qs = quizProbes(probes);
const dir = mkdtempSync(path.join(os.tmpdir(), 'quiz-unit-'));
const answers = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return () => readAnswers(f, 'lite-slb', qs, plan);
};

test('an answers file in YAML or JSON; probes by number or name; aliases name interfaces', (t) => {
  const y = answers('a.yaml', 'probes:\n  probe 1:\n    reachable: false\n    crosses: ["ecs2:eni(nginx-b)", vpc]\n')();
  t.deepEqual(y.get('p1'), { reachable: false, crosses: ['ecs2:eni(nginx-b)', 'vpc'] });
  const j = answers('a.json', '{\n  "scenario": "lite-slb",\n  "probes": { "p1": { "source": "203.0.113.10" } }\n}\n')();
  t.deepEqual(j.get('p1'), { source: '203.0.113.10' });
});

test('bad answers: each problem at its line, with the field, the value and what was expected', (t) => {
  const e = t.throws(answers('b.json', '{\n  "scenario": "eniip-5",\n  "probes": {\n    "p1": { "reachable": "yes", "colour": 1, "source": "10.0.0" }\n  }\n}\n'), { instanceOf: InputError }) as InputError;
  t.is(e.exitCode, 2);
  const text = e.issues.map((i) => `${i.line} ${i.field}: ${i.message}`);
  t.true(text.includes('2 scenario: value "eniip-5": expected "lite-slb" (the quiz being answered)'), text.join('\n'));
  t.true(text.some((l) => /^4 probes\.p1\.reachable: value "yes": expected true or false$/.test(l)), text.join('\n'));
  t.true(text.some((l) => /^4 probes\.p1\.colour: value 1: expected one of reachable, crosses, source$/.test(l)), text.join('\n'));
  t.true(text.some((l) => /^4 probes\.p1\.source: value "10\.0\.0": expected an IPv4 address/.test(l)), text.join('\n'));
  const iface = t.throws(answers('c.yaml', 'probes:\n  p1:\n    crosses: [ecs2:eth9]\n'), { instanceOf: InputError }) as InputError;
  t.regex(iface.message, /c\.yaml:3:\d+: probes\.p1\.crosses: value \["ecs2:eth9"\]: expected "ecs2:eth9": an interface of ecs2 \(eth0 \[primary\], eth1 \[eni\(nginx-b\)\]/);
  t.throws(answers('d.yaml', 'probes: [1, 2]\n'), { instanceOf: InputError, message: /d\.yaml:1:\d+: probes: value \[1,2\]: expected a mapping of probe/ });
});

test('the sheet shows neither the story, the title nor the expectations', (t) => {
  const sheet = quizSheet(topo, 'lite-slb', plan, probes);
  t.regex(sheet, /p1 "probe 1": client → slb\/slb \(203\.0\.113\.80:80\)/);
  t.false(sheet.includes(scenario.title));
  t.notRegex(sheet, /answeredBy|serverSees|expect/);
});

test('scoring reads the evidence: the attempts, the traced path, the capture at the server', (t) => {
  const hop = (object: string, ifname: string, dir: 'In' | 'Out', src: string) => ({ object, kind: 'pod' as const, ifname, dir, src, dst: '10.0.3.58', label: `${object}:${ifname}` });
  const r: ProbeResult = {
    id: 'p1', name: 'probe 1', from: 'client', to: 'slb/slb', target: '203.0.113.80:80', reachable: true, answeredBy: 'nginx-b',
    attempts: [{ n: 1, t0: 0, t1: 1, rc: 0, reply: 'pod=nginx-b ip=10.0.3.58 port=80', sport: 40101 }],
    path: [hop('client', 'eth0', 'Out', '203.0.113.10'), hop('ecs2', 'eth1', 'In', '203.0.113.10'), hop('nginx-b', 'eth0', 'In', '203.0.113.10')],
    replyPath: [], stacks: 2, checks: [],
  };
  const s = scoreProbe(plan, qs[0]!, { reachable: true, crosses: ['ecs2:eni(nginx-b)', 'ecs1'], source: '203.0.113.10' }, r);
  t.like(s.items[0], { item: 'reachable', right: true });
  t.like(s.items[1], { item: 'crosses', right: false });
  t.true(s.items[1]!.evidence.includes('not crossed: ecs1'));
  t.like(s.items[2], { item: 'source', observed: '203.0.113.10', right: true });
  const dropped = scoreProbe(plan, qs[0]!, { reachable: true, source: '203.0.113.10' }, { ...r, reachable: false, answeredBy: undefined, attempts: [{ ...r.attempts[0]!, rc: 1, reply: '' }] });
  t.like(dropped.items[0], { right: false, observed: 'no' });
  t.like(dropped.items[1], { right: false, observed: 'no server saw the request' });
});
