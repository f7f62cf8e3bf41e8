// The CLI contract: exit statuses and output shapes of the commands that need no root.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');
const lab = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lab', 'cli.ts'), ...args], { encoding: 'utf8', cwd: root });

test('list --json: id, family and title of every scenario', (t) => {
  const r = lab('list', '--json');
  t.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { id: string; family: string; title: string }[];
  t.true(rows.some((x) => x.id === 'eniip-5' && x.family === 'eniip' && x.title.length > 0));
});

test('plan runs nothing, needs no root and shows the namespaces', (t) => {
  const r = lab('plan', 'eniip-5');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /netns add dl-LABID-ecs1/);
  t.regex(r.stdout, /rule add from 10\.0\.1\.91 iif cali\w+ lookup 1003 pref 2048/);
});

test('plan --file: a topology of the user', (t) => {
  const r = lab('plan', 'eniip-3', '--file', path.join(root, 'topologies', 'eniip.yaml'));
  t.is(r.status, 0, r.stderr);
});

test('bad topology: exit 2 with file:line: field: message', (t) => {
  const f = path.join(root, 'test', 'fixtures', 'bad', 'long-ifname.yaml');
  const r = lab('scenario', 'x-1', '--file', f, '--runner', 'uml');
  t.is(r.status, 2);
  t.regex(r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13:\\d+: cluster\\.nodes\\[0\\]\\.enis\\[1\\]\\.name: `));
});

test('unknown scenario and bad usage: exit 2', (t) => {
  t.is(lab('scenario', 'nope-1').status, 2);
  t.is(lab('scenario', 'eniip-1', '--runner', 'qemu').status, 2);
  t.is(lab('frobnicate').status, 2);
  t.is(lab('down').status, 2);
});
