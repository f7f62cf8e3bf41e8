// `lab test`: selection (family, glob, shard) and the reporters, on synthetic results.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { loadCatalog } from '../../lab/catalog.ts';
import { globToRegExp, parseShard, selectScenarios } from '../../lab/suite.ts';
import { junit, tap } from '../../lab/report/suite.ts';
import type { ScenarioReport } from '../../lab/run.ts';

const topos = loadCatalog();

test('selection by family and glob', (t) => {
  const e = selectScenarios(topos, { family: 'eniip' });
  t.true(e.length >= 7);
  t.true(e.every((x) => x.topo.family === 'eniip'));
  t.deepEqual(selectScenarios(topos, { match: 'eniip-4*' }).map((x) => x.scenario.id), ['eniip-4', 'eniip-4-current']);
  t.true(globToRegExp('eniip-?').test('eniip-5'));
  t.false(globToRegExp('eniip-?').test('eniip-4-current'));
});

test('shards partition the selection: disjoint, complete, stable', (t) => {
  const all = selectScenarios(topos, {}).map((x) => x.scenario.id);
  const shards = [1, 2, 3].map((i) => selectScenarios(topos, { shard: { index: i, total: 3 } }).map((x) => x.scenario.id));
  t.deepEqual(shards.flat().sort(), [...all].sort());
  t.is(new Set(shards.flat()).size, all.length);
  t.deepEqual(parseShard('2/3'), { index: 2, total: 3 });
  t.throws(() => parseShard('4/3'));
  t.throws(() => parseShard('x'));
});

const report = (id: string, passed: boolean, error?: string): ScenarioReport => ({
  id, labId: 'abc123', title: `title of ${id} <&>`, family: id.split('-')[0]!, file: 'f.yaml', runner: 'uml', kernel: '6.1.176', passed, error,
  timings: { boot: 1, build: 2, probe: 3, teardown: 4, total: 1500 },
  probes: [{
    id: 'p1', name: 'probe 1', from: 'a', to: 'b', target: '10.0.0.1:80', reachable: passed, attempts: [], path: [], replyPath: [], stacks: 2,
    checks: [{ name: 'reachable', expected: 'yes', observed: passed ? 'yes' : 'no', passed, evidence: ['attempt 1: \u0001 failed'] }],
  }],
});

test('junit: well-formed XML, one testcase per scenario, failures and errors', (t) => {
  const x = junit([report('eniip-1', true), report('eniip-2', false), report('trunk-1', false, 'the build failed')]);
  // Parse with a real XML parser (python3's expat) rather than trusting our own escaping.
  const r = spawnSync('python3', ['-c', `
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
cases = root.findall('.//testcase')
print(root.tag, root.get('tests'), len(cases), len(root.findall('.//failure')), len(root.findall('.//error')), len(root.findall('testsuite')))
`], { input: x, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), 'testsuites 3 3 1 1 2');
  t.regex(x, /<testcase classname="datapath-lab\.eniip" name="eniip-2: title of eniip-2 &lt;&amp;&gt;" time="1\.500">/);
  t.regex(x, /<failure type="expectation" message="probe 1: reachable: expected yes, observed no">/);
});

test('tap: plan line, ok / not ok, failure details', (t) => {
  const s = tap([report('eniip-1', true), report('eniip-2', false)]);
  t.regex(s, /^TAP version 13\n1\.\.2\nok 1 - eniip-1: /);
  t.regex(s, /\nnot ok 2 - eniip-2: [^\n]*\n  ---\n  runner: uml\n  failures:\n    - "probe 1: reachable: expected yes, observed no"\n  \.\.\./);
});
