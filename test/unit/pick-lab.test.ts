// With several labs up, a verb that names an object (exec, shell, capture) needs --lab only when
// more than one lab has that object. The labs here are records in a private state folder: no
// namespace is built, pickLab only reads records.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'dl-pick-test-'));
process.env.DL_STATE_DIR = stateDir;
const { createLab, writeRecord } = await import('../../lab/state/labs.ts');
const { pickLab } = await import('../../lab/interactive.ts');
test.after.always(() => rmSync(stateDir, { recursive: true, force: true }));

function upLab(labId: string, scenario: string, objects: string[]): void {
  const dir = createLab(labId);
  writeRecord(dir, {
    labId, scenario, file: 'x.yaml', mode: 'up', createdAt: new Date().toISOString(),
    objects: objects.map((o) => ({ object: o, kind: 'node', ns: `dl-${labId}-${o}` })),
  });
}

test.serial('one lab up: every verb finds it', (t) => {
  upLab('aaaaaa', 'eniip-5', ['ecs1', 'centos']);
  t.is(pickLab(undefined, 'anything').labId, 'aaaaaa');
});

test.serial('two labs up: the only lab holding the object is chosen; a shared name asks for --lab', (t) => {
  upLab('bbbbbb', 'kproxy-1', ['worker-a', 'centos']);
  t.is(pickLab(undefined, 'ecs1').labId, 'aaaaaa');
  t.is(pickLab(undefined, 'worker-a').labId, 'bbbbbb');
  const both = t.throws(() => pickLab(undefined, 'centos'));
  t.regex(both!.message, /"centos" is in several labs .*--lab/);
  const none = t.throws(() => pickLab(undefined, 'nope'));
  t.regex(none!.message, /no lab that is up has "nope"/);
  t.is(pickLab('bbbbbb', 'centos').labId, 'bbbbbb');
  t.throws(() => pickLab(), { message: /several labs are up/ });
});
