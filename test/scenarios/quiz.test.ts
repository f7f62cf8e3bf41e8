// `lab quiz`: predictions scored against the run's evidence, from an answers file; bad answers
// are refused (exit 2) at file:line with the field, the value and what was expected.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const lab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000 });
const dir = mkdtempSync(path.join(os.tmpdir(), 'quiz-'));

interface Item { item: string; predicted: string; observed: string; right: boolean | null; evidence: string[] }

test('uml: one right and one wrong prediction are scored from the run', (t) => {
  const answers = path.join(dir, 'answers.yaml');
  // 192.0.2.1 (TEST-NET-1) is no address of this lab: no server can see it as the source.
  writeFileSync(answers, 'scenario: lite-slb\nprobes:\n  probe 1:\n    reachable: true\n    source: 192.0.2.1\n');
  const r = lab(['quiz', 'lite-slb', '--file', fixture, '--answers', answers, '--runner', 'uml', '--json']);
  t.is(r.status, 0, r.stderr);
  const q = JSON.parse(r.stdout) as { runner: string; right: number; total: number; probes: { key: string; items: Item[] }[] };
  t.is(q.runner, 'uml');
  t.is(q.total, 2);
  t.is(q.right, 1);
  const items = q.probes[0]!.items;
  const reach = items.find((i) => i.item === 'reachable')!;
  t.like(reach, { predicted: 'yes', observed: 'yes', right: true });
  t.regex(reach.evidence.join('\n'), /attempt \d+: answered "pod=nginx-b/);
  const src = items.find((i) => i.item === 'source')!;
  t.false(src.right);
  t.regex(src.observed, /^\d+\.\d+\.\d+\.\d+$/);
  t.not(src.observed, '192.0.2.1');
  // The evidence is the capture on the server's own interface, with the observed source.
  t.true(src.evidence.some((e) => e.startsWith('captured at the server: nginx-b:eth0 In ') && e.includes(`${src.observed} > `)), src.evidence.join('\n'));
});

// Natively (kproxy runs on the host kernel): kproxy-1's ClusterIP is DNATed on worker A, where
// toolbox lives (whichever endpoint is picked, the request crosses worker A), it is answered, and
// nothing is masqueraded — the server sees the pod's own address.
test('native: kproxy-1 scored from the run — worker A and the source right, "unreachable" wrong', (t) => {
  const answers = path.join(dir, 'kproxy-1.json');
  writeFileSync(answers, JSON.stringify({ scenario: 'kproxy-1', probes: { p1: { reachable: false, crosses: ['worker-a'], source: '10.217.120.9' } } }));
  const r = lab(['quiz', 'kproxy-1', '--answers', answers, '--runner', 'native', '--json']);
  t.is(r.status, 0, r.stderr);
  const q = JSON.parse(r.stdout) as { runner: string; right: number; total: number; probes: { key: string; items: Item[] }[] };
  t.is(q.runner, 'native');
  t.deepEqual([q.right, q.total], [2, 3]);
  const items = q.probes[0]!.items;
  const reach = items.find((i) => i.item === 'reachable')!;
  t.like(reach, { predicted: 'no', observed: 'yes', right: false });
  t.regex(reach.evidence.join('\n'), /attempt \d+: answered "pod=nginx-demo-1-/);
  const crosses = items.find((i) => i.item === 'crosses')!;
  t.true(crosses.right);
  t.regex(crosses.observed, /worker-a/);
  t.like(items.find((i) => i.item === 'source'), { observed: '10.217.120.9', right: true });
});

test('bad answers: exit 2 at file:line with the field, the value and what was expected', (t) => {
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'probes:\n  p1:\n    reachable: maybe\n    crosses: [nosuch:eth0]\n  p9:\n    source: 10.0.0.1\n');
  const r = lab(['quiz', 'lite-slb', '--file', fixture, '--answers', bad, '--runner', 'uml']);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`${bad.replaceAll('/', '\\/')}:3:\\d+: probes\\.p1\\.reachable: value "maybe": expected true or false`));
  t.regex(r.stderr, /:4:\d+: probes\.p1\.crosses: value \["nosuch:eth0"\]: expected "nosuch:eth0": an object of this scenario/);
  t.regex(r.stderr, /:5:\d+: probes\.p9: no probe "p9" in lite-slb: expected p1 or "probe 1"/);
  t.notRegex(r.stdout + r.stderr, /running lite-slb/, 'nothing is run on bad answers');
});

test('no answers and no terminal: exit 2, says how to give them', (t) => {
  const r = lab(['quiz', 'lite-slb', '--file', fixture, '--runner', 'uml']);
  t.is(r.status, 2);
  t.regex(r.stderr, /--answers FILE/);
});
