/**
 * dlsysctl (lab/runners/native/dlsysctl.c, built from source) writes the sysctl files of two
 * throw-away network namespaces (held by `unshare -n` processes) from one process: each value
 * lands in its own namespace only (read back with sysctl in each, and the test's namespace
 * unchanged), '/'-separated keys keep their dots, a '-' key may fail, any other failure is
 * exit 1 naming the key. Needs root and gcc: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';

const read = (pid: number, key: string) => execFileSync('nsenter', ['-t', String(pid), '-n', 'sysctl', '-n', key], { encoding: 'utf8' }).trim();

test('dlsysctl: one process, each namespace its own values', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (setns into network namespaces)');
  const built = ensureNativeTool('dlsysctl');
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlsysctl-test-'));
  const holders: ChildProcess[] = [spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' }), spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' })];
  try {
    await new Promise((r) => setTimeout(r, 200));
    const [a, b] = holders.map((h) => h.pid!) as [number, number];
    const own = execFileSync('sysctl', ['-n', 'net.ipv4.conf.lo.rp_filter'], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'a.sysctl'), '# node\nnet.ipv4.ip_forward = 1\nnet/ipv4/conf/lo/rp_filter = 2\n-net.ipv4.no_such_key = 1\n');
    writeFileSync(join(dir, 'b.sysctl'), 'net.ipv4.conf.all.rp_filter = 1\n');
    const ok = spawnSync(built.path!, [`/proc/${a}/ns/net`, join(dir, 'a.sysctl'), `/proc/${b}/ns/net`, join(dir, 'b.sysctl')], { encoding: 'utf8' });
    t.is(ok.status, 0, ok.stderr);
    t.is(read(a, 'net.ipv4.ip_forward'), '1');
    t.is(read(a, 'net.ipv4.conf.lo.rp_filter'), '2');
    t.is(read(b, 'net.ipv4.ip_forward'), '0');
    t.is(read(b, 'net.ipv4.conf.all.rp_filter'), '1');
    t.is(execFileSync('sysctl', ['-n', 'net.ipv4.conf.lo.rp_filter'], { encoding: 'utf8' }).trim(), own);
    writeFileSync(join(dir, 'bad.sysctl'), 'net.ipv4.no_such_key = 1\n');
    const bad = spawnSync(built.path!, [`/proc/${b}/ns/net`, join(dir, 'bad.sysctl')], { encoding: 'utf8' });
    t.is(bad.status, 1);
    t.regex(bad.stderr, /net\/ipv4\/no_such_key/);
  } finally {
    for (const h of holders) h.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
