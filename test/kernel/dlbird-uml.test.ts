/**
 * dlbird (lab/runners/native/dlbird.c) against real BIRDs, inside a User-Mode Linux guest booted
 * with a small init script (dlbird-uml-init.sh): r1 and r2 peer over a veth, r3's peer runs no BIRD.
 * One dlbird waits for r1 and r2 together (a converged line per speaker once both sessions are
 * Established and each kernel table holds the other's /24 and /32); with r3 in the list it times out
 * with the shell wait's message (speaker, 0/1 sessions Established, what BIRD said); a route nobody
 * announces is reported missing; a socket outside /run/dl-*.ctl is refused (exit 2). Its dumps equal
 * the agent's birdcl dumps (probe.sh bird_dump) byte for byte. Needs linux.uml with its modules,
 * gcc with a static libc and bird2: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { guestFiles, runTestGuest } from '../helpers/uml-guest.ts';

const INIT = fileURLToPath(new URL('./dlbird-uml-init.sh', import.meta.url));
const PROBE = fileURLToPath(new URL('../../lab/runners/agent/probe.sh', import.meta.url));

test('dlbird in a UML guest: one wait for every speaker, the timeout message, dumps as birdcl', async (t) => {
  const built = ensureNativeTool('dlbird');
  t.truthy(built.path, built.error);
  const uml = umlBinary();
  t.truthy(uml && umlKernelVersion(), 'needs linux.uml and its modules (apt-get install user-mode-linux)');
  t.true(existsSync('/usr/sbin/bird') && existsSync('/usr/sbin/birdcl'), 'needs bird2 (apt-get install bird2)');
  const dir = mkdtempSync(join(tmpdir(), 'dlbird-uml-'));
  try {
    const lab = randomBytes(3).toString('hex');
    const { code } = await runTestGuest({ init: INIT, dir, umid: `dlbird-${lab}`, mem: '256M', vars: { DL_OUT: dir, DL_LAB: lab, DL_DLBIRD: built.path!, DL_PROBE: PROBE }, timeoutMs: 180_000 });
    t.is(code, 0, 'the guest ran its script to the end');
    const file = guestFiles(dir);
    const rc = (name: string) => file(`${name}.rc`).trim();
    const ns = (r: string) => `dl-${lab}-${r}`;

    // Both speakers converged: a line each (index, 0, end time, start time), nothing on stderr.
    t.is(rc('wait'), '0', file('wait.err'));
    const lines = file('wait.out').trim().split('\n').map((l) => l.split('\t'));
    t.deepEqual(lines.map((l) => l.slice(0, 2)), [['1', '0'], ['2', '0']]);
    for (const l of lines) t.true(Number(l[2]) >= Number(l[3]) && Number(l[3]) > 0, l.join(' '));
    t.is(file('wait.err'), '');

    // r3's peer runs no BIRD: r1 converges (line 1, status 0), r3 times out (line 2, status 1).
    t.is(rc('timeout'), '1');
    t.deepEqual(file('timeout.out').trim().split('\n').map((l) => l.split('\t').slice(0, 2)), [['1', '0'], ['2', '1']]);
    const msg = file('timeout.err');
    t.true(msg.startsWith(`BGP in ${ns('r3')} not converged within 3s (0/1 sessions Established):\nBIRD `), msg);
    t.regex(msg, /\npeer\s+BGP\s+---\s+start\s/, msg);

    // Sessions up, a route nobody announces: reported missing (the announced one is not).
    t.is(rc('route-missing'), '1');
    t.is(file('route-missing.err').split('\n')[0], `BGP in ${ns('r1')} not converged within 2s (1/1 sessions Established; missing routes: 10.7.7.0/24):`);
    t.is(rc('not-lab'), '2');

    // The dumps: dlbird's bytes are birdcl's (same BIRDs, converged, nothing changed in between),
    // but for the milliseconds of BIRD's times: BIRD keeps a state change or a route's arrival on
    // its monotonic clock and prints it as wall-clock time (its loop's cached real time minus the
    // age on its cached monotonic time — struct timeloop's last_time and real_time, read one after
    // the other once per loop: https://gitlab.nic.cz/labs/bird/-/blob/master/lib/timer.h), so two
    // dumps a moment apart may print the same instant apart by the gap between those two reads:
    // 1 ms when idle (seen: 24.647 and 24.648), tens of ms with eight UML guests on two cores. So
    // the text is compared with its times masked, and each pair of times within 250 ms.
    t.is(rc('dump'), '0', file('dump.err'));
    const TIME = /\b(\d\d):(\d\d):(\d\d)\.(\d{3})\b/g;
    const times = (s: string) => [...s.matchAll(TIME)].map((m) => ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]));
    const DAY = 86_400_000;
    for (const r of ['r1', 'r2', 'r3']) {
      const ours = file(`dlbird-${r}.txt`);
      const theirs = file(`birdcl-${r}.txt`);
      t.is(ours.replace(TIME, '__:__:__.___'), theirs.replace(TIME, '__:__:__.___'), r);
      const [a, b] = [times(ours), times(theirs)];
      t.is(a.length, b.length, r);
      a.forEach((ms, i) => { const d = Math.abs(ms - b[i]!); t.true(Math.min(d, DAY - d) <= 250, `${r}: time ${i} differs by ${d} ms`); });
      t.true(ours.includes('# show route all\nBIRD ') && ours.includes('Table master4:'), ours);
    }
    t.regex(file('dlbird-r1.txt'), /\n10\.2\.2\.0\/24\s+unicast \[peer /);
    // No BIRD on r4's socket: birdcl's message, and a failing status.
    t.is(rc('dump-gone'), '1');
    t.is(file('dlbird-r4.txt'), file('birdcl-r4.txt'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
