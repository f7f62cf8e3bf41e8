// An unknown scenario id: a usage error (exit 2) that suggests the nearest ids, with no file position.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { closest, editDistance } from '../../lab/catalog.ts';

const cli = path.join(import.meta.dirname, '..', '..', 'lab', 'cli.ts');

test('edit distance and the nearest ids', (t) => {
  t.is(editDistance('eniip5', 'eniip-5'), 1);
  t.is(editDistance('kitten', 'sitting'), 3);
  t.deepEqual(closest('eniip5', ['eniip-5', 'eniip-50', 'trunk-5', 'ipvlan-5']), ['eniip-5', 'eniip-50']);
  t.deepEqual(closest('zzzzzz', ['eniip-5']), []);
});

test('lab plan with a mistyped id: exit 2, "did you mean", no :0:0 position', (t) => {
  const r = spawnSync(process.execPath, [cli, 'plan', 'trunk8-deny'], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /no scenario "trunk8-deny": did you mean "trunk-8-deny"/);
  t.notRegex(r.stderr, /:0:0/);
  t.is(r.stdout, '');
});
