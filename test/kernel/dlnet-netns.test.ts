/**
 * dlnet's first items of a build (lab/runners/native/dlnet.c -n and -s), inside a User-Mode Linux
 * guest booted with a small init script (dlnet-netns-uml-init.sh): `-n FILE` makes the lab's
 * namespaces as `ip netns add` does (distinct namespaces, /run/netns a shared mount point), `-s`
 * applies a sysctl file in one namespace only, and an ip batch follows in the same process; a name
 * that is not the lab's stops the file at its line, an existing name is refused, and a namespace
 * path not the lab's refuses the whole list before anything is made (exit 2).
 * Needs linux.uml with its modules and gcc with a static libc: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { guestFiles, runTestGuest } from '../helpers/uml-guest.ts';

const INIT = fileURLToPath(new URL('./dlnet-netns-uml-init.sh', import.meta.url));

test('dlnet -n and -s: the lab\'s namespaces as ip netns add makes them, sysctls in one namespace, refusals', async (t) => {
  const built = ensureNativeTool('dlnet');
  t.truthy(built.path, built.error);
  const uml = umlBinary();
  t.truthy(uml && umlKernelVersion(), 'needs linux.uml and its modules (apt-get install user-mode-linux)');
  const dir = mkdtempSync(join(tmpdir(), 'dlnet-netns-'));
  try {
    const lab = randomBytes(3).toString('hex');
    const { code } = await runTestGuest({ init: INIT, dir, umid: `dlnetns-${lab}`, mem: '256M', vars: { DL_OUT: dir, DL_LAB: lab, DL_DLNET: built.path! }, timeoutMs: 120_000 });
    t.is(code, 0, 'the guest ran its script to the end');
    const file = guestFiles(dir);

    // One process: three items, a status line each, all 0.
    t.is(file('build.rc').trim(), '0', file('build.err'));
    t.deepEqual(file('build.out').trim().split('\n').map((l) => l.split('\t').slice(0, 2)), [['1', '0'], ['2', '0'], ['3', '0']]);
    // Two namespaces of their own, neither the guest's; /run/netns a shared mount, as ip makes it.
    const [a, b, g] = ['ino-a.txt', 'ino-b.txt', 'ino-guest.txt'].map((f) => file(f).trim());
    t.true(a !== b && a !== g && b !== g, `${a} ${b} ${g}`);
    t.regex(file('mountinfo.txt'), / shared:\d+/);
    // The sysctls and the link in a only; the guest's values untouched.
    t.deepEqual(file('sysctl-a.txt').trim().split('\n'), ['1', '2']);
    t.notDeepEqual(file('sysctl-b.txt').trim().split('\n'), ['1', '2']);
    t.notDeepEqual(file('sysctl-guest.txt').trim().split('\n'), ['1', '2']);
    t.regex(file('addr-a.txt'), /d0\s+inet 10\.7\.0\.1\/24/);
    t.notRegex(file('addr-b.txt'), /d0/);
    t.notRegex(file('links-guest.txt'), /\bd0\b/);

    // Another lab's name: line 2 refused (file:line), line 1 made, line 3 not.
    t.is(file('other.rc').trim(), '1');
    t.regex(file('other.err'), /other\.batch:2: dl-ffffff-x is not a namespace of lab/);
    const after = file('netns-after.txt').split('\n');
    t.true(after.includes(`dl-${lab}-c`));
    t.false(after.includes('dl-ffffff-x'));
    t.false(after.includes(`dl-${lab}-d`));
    // An existing name: refused, never reused.
    t.is(file('again.rc').trim(), '1');
    t.regex(file('again.err'), /ns\.batch:1: cannot create namespace file "\/run\/netns\/dl-[0-9a-f]{6}-a": File exists/);
    // A namespace path not the lab's: nothing made, not even the -n item before it.
    t.is(file('notlab.rc').trim(), '2');
    t.false(after.includes(`dl-${lab}-e`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
