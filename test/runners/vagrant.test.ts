// The Vagrantfile (a Debian 12 VM that provisions everything and runs the lab): `vagrant validate`
// must pass. It needs vagrant and a provider plugin whose config block it then checks too
// (Debian: vagrant, vagrant-libvirt); without them the test fails naming the packages.
// No VM is booted here: CI machines have no nested virtualisation budget for it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from '../../lab/runners/tools.ts';

const root = path.join(import.meta.dirname, '..', '..');

test('vagrant validate passes on the Vagrantfile', (t) => {
  if (!which('vagrant')) {
    t.fail('vagrant is not installed: apt-get install vagrant vagrant-libvirt (or bash scripts/ci-vagrant.sh)');
    return;
  }
  // Vagrant's state (.vagrant/) goes to a temporary directory, not into the repository.
  const dot = mkdtempSync(path.join(os.tmpdir(), 'dl-vagrant-'));
  try {
    const r = spawnSync('vagrant', ['validate'], { cwd: root, encoding: 'utf8', env: { ...process.env, VAGRANT_DOTFILE_PATH: dot, VAGRANT_CHECKPOINT_DISABLE: '1' }, timeout: 120_000 });
    const out = `${r.stdout}${r.stderr}`;
    if (/No usable default provider/.test(out)) {
      t.fail(`vagrant has no provider to validate against: apt-get install vagrant-libvirt\n${out}`);
      return;
    }
    t.is(r.status, 0, out);
    t.regex(out, /validated successfully/);
  } finally {
    rmSync(dot, { recursive: true, force: true });
  }
});

test('the Vagrantfile boots Debian 12, provisions with scripts/setup.sh and runs the lab', (t) => {
  const v = readFileSync(path.join(root, 'Vagrantfile'), 'utf8');
  t.regex(v, /config\.vm\.box = "debian\/bookworm64"/);
  t.regex(v, /bash scripts\/setup\.sh/);
  t.regex(v, /provision "lab"[\s\S]*npm test/);
  t.regex(v, /DL_SCENARIO/);
});
