/**
 * The agent's IPVS dumps from the kernel's /proc/net/ip_vs (read by dlnsrun in the namespace, no
 * process start) against `ipvsadm -Ln`, inside a User-Mode Linux guest booted with a small init
 * script (ipvs-proc-uml-init.sh): the parser reads the same services, real servers, forwarding
 * methods, weights and connection counts from both — and the same lines for the evidence — and a
 * table holding a persistent service (its timeout is in jiffies there) is dumped with ipvsadm.
 * Needs linux.uml with its modules, ipvsadm and gcc: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIpvsadm, type IpvsService } from '../../lab/evidence/ipvsadm.ts';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { guestFiles, runTestGuest } from '../helpers/uml-guest.ts';

const INIT = fileURLToPath(new URL('./ipvs-proc-uml-init.sh', import.meta.url));
const PROBE = fileURLToPath(new URL('../../lab/runners/agent/probe.sh', import.meta.url));
// ipvsadm sorts services and real servers (libipvs ipvs_cmp_*: a difference of addresses as an
// int, whose sign flips for far-apart addresses), the kernel lists them as it holds them: the two
// are compared as sets, each service with its real servers and its evidence lines in one order.
const key = (x: { ip?: string; vip?: string; port: number }) => `${x.vip ?? x.ip}:${x.port}`;
const sorted = (s: IpvsService[]) => s.map((v) => {
  const [head, ...lines] = v.raw.split('\n');
  return { ...v, backends: [...v.backends].sort((a, b) => key(a).localeCompare(key(b))), raw: [head, ...lines.sort()].join('\n') };
}).sort((a, b) => `${a.proto}${key(a)}`.localeCompare(`${b.proto}${key(b)}`));

test('IPVS dumps from /proc/net/ip_vs read as ipvsadm -Ln; a persistent table is dumped with ipvsadm', async (t) => {
  const built = ensureNativeTool('dlnsrun');
  t.truthy(built.path, built.error);
  const uml = umlBinary();
  t.truthy(uml && umlKernelVersion(), 'needs linux.uml and its modules (apt-get install user-mode-linux)');
  t.true(existsSync('/usr/sbin/ipvsadm'), 'needs ipvsadm (apt-get install ipvsadm)');
  const dir = mkdtempSync(join(tmpdir(), 'ipvs-proc-'));
  try {
    const lab = randomBytes(3).toString('hex');
    const { code } = await runTestGuest({ init: INIT, dir, umid: `ipvsproc-${lab}`, mem: '256M', vars: { DL_OUT: dir, DL_LAB: lab, DL_DLNSRUN: built.path!, DL_PROBE: PROBE }, timeoutMs: 180_000 });
    t.is(code, 0, 'the guest ran its script to the end');
    const file = guestFiles(dir);
    const ns = (n: string) => `dl-${lab}-${n}`;
    t.is(file('dumps.rc').trim(), '0', file('agent/dump.err'));

    // Namespace a: the agent's dump is the kernel's /proc table (hex), which reads as ipvsadm's.
    const agentA = file(`agent/dump/final.ipvs.${ns('a')}.txt`);
    t.is(agentA, file('proc-a.txt'));
    t.regex(agentA, /^TCP {2}0A090001:0050 rr +$/m);
    const fromProc = sorted(parseIpvsadm(agentA));
    const fromAdm = sorted(parseIpvsadm(file('ipvsadm-a.txt')));
    t.is(fromProc.length, 4, agentA);
    t.deepEqual(fromProc, fromAdm); // the raw evidence lines included: ipvsadm's own, trimmed
    const rr = fromProc.find((s) => s.vip === '10.9.0.1')!;
    t.deepEqual(rr.backends.map((b) => [b.ip, b.port, b.forward, b.weight]), [['10.0.0.2', 8080, 'Masq', 1], ['10.0.0.3', 8080, 'Masq', 3]]);
    t.true(rr.backends.reduce((n, b) => n + b.active + b.inactive, 0) >= 2, rr.raw); // the two connections
    t.deepEqual(fromProc.find((s) => s.vip === '10.9.0.4')!.backends.map((b) => b.forward), ['Route']);
    t.deepEqual(fromProc.find((s) => s.vip === '10.9.0.3')!.backends, []);
    t.is(fromProc.find((s) => s.proto === 'UDP')!.scheduler, 'wrr');

    // Namespace p: /proc prints the persistent timeout in jiffies, so the agent's dump is ipvsadm's.
    t.regex(file('proc-p.txt'), / persistent \d+ FFFFFFFF/);
    const agentP = file(`agent/dump/final.ipvs.${ns('p')}.txt`);
    t.is(agentP, file('ipvsadm-p.txt'));
    t.is(parseIpvsadm(agentP)[0]!.persistent, 10800);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
