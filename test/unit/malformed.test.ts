// Hostile input: every file of the malformed corpus gives exit 2 with file:line and builds nothing;
// a property-based fuzz of the loader never crashes, hangs or accepts garbage silently.
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lab/errors.ts';
import { parseTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';

const root = path.join(import.meta.dirname, '..', '..');
const corpus = path.join(root, 'test', 'fixtures', 'bad');
const cli = path.join(root, 'lab', 'cli.ts');

for (const f of readdirSync(corpus).filter((x) => x.endsWith('.yaml'))) {
  test(`malformed ${f}: exit 2, located message, nothing built`, (t) => {
    const file = path.join(corpus, f);
    // `scenario` would build: it must stop at the loader, before any runner is chosen.
    const r = spawnSync(process.execPath, [cli, 'scenario', 'x-1', '--file', file, '--runner', 'native'], { encoding: 'utf8', env: { ...process.env, DL_STATE_DIR: path.join(root, '.lab', 'malformed-never-used') } });
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`^lab: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:[1-9]\\d*:\\d+: \\S+: `));
    t.false(readdirSync(path.join(root, '.lab')).includes('malformed-never-used'), 'a job directory was created');
  });
}

const valid = readFileSync(path.join(TOPOLOGY_DIR, 'eniip.yaml'), 'utf8');

test('fuzz: random line edits of a valid topology either load or fail with located InputErrors', (t) => {
  const lines = valid.split('\n');
  const edit = fc.record({
    line: fc.nat({ max: lines.length - 1 }),
    kind: fc.constantFrom('delete', 'duplicate', 'replace', 'truncate'),
    text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('  - { name: "$(reboot)" }', 'ip: 999.1.1.1', 'name: a/b', '{', ']', '&anchor', '*alias', 'vlan: 5000', 'port: 0', '\t')),
  });
  fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
    const l = [...lines];
    for (const e of edits) {
      if (e.kind === 'delete') l.splice(e.line, 1);
      else if (e.kind === 'duplicate') l.splice(e.line, 0, l[e.line] ?? '');
      else if (e.kind === 'replace') l[e.line] = e.text;
      else l[e.line] = (l[e.line] ?? '').slice(0, Math.floor((l[e.line] ?? '').length / 2));
    }
    try {
      parseTopology(l.join('\n'), 'fuzz.yaml');
      return true;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return err.issues.length > 0 && err.issues.every((i) => i.file === 'fuzz.yaml' && i.line >= 0 && i.field.length > 0 && i.message.length > 0);
    }
  }), { numRuns: 300 });
  t.pass();
});

test('fuzz: arbitrary text never crashes the loader', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
    try {
      parseTopology(text, 'x.yaml');
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
    }
  }), { numRuns: 300 });
  t.pass();
});
