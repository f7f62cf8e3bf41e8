/**
 * dlnsrun (lab/runners/native/dlnsrun.c, built from source) runs commands inside two throw-away
 * network namespaces (held by `unshare -n` processes) from one process: each command sees its own
 * namespace (a veth pair made in one is absent from the other and from the test's), input and
 * output files are honoured, a failing command stops the run unless -k, one status line per
 * command that ran, and a malformed argument list runs nothing (exit 2). Needs root and gcc: a
 * missing prerequisite FAILS the file.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';

const links = (pid: number) => execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show'], { encoding: 'utf8' });

test('dlnsrun: one process, each command in its own namespace, stops at the first failure', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (setns into network namespaces)');
  const built = ensureNativeTool('dlnsrun');
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlnsrun-test-'));
  const holders: ChildProcess[] = [spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' }), spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' })];
  try {
    await new Promise((r) => setTimeout(r, 200));
    const [a, b] = holders.map((h) => h.pid!) as [number, number];
    const [na, nb] = [`/proc/${a}/ns/net`, `/proc/${b}/ns/net`];
    writeFileSync(join(dir, 'a.ip'), 'link add dlnsrun0 type veth peer name dlnsrun1\n');
    const out = join(dir, 'b.links');
    const ok = spawnSync(built.path!, [na, '-', join(dir, 'a.err'), '=', '3', 'ip', '-batch', join(dir, 'a.ip'), nb, '-', out, '=', '3', 'ip', 'link', 'show', nb, join(dir, 'a.ip'), '-', '-', '1', 'cat'], { encoding: 'utf8' });
    t.is(ok.status, 0, ok.stderr);
    t.regex(links(a), /dlnsrun0/);
    t.notRegex(links(b), /dlnsrun0/);
    t.notRegex(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }), /dlnsrun0/);
    t.regex(readFileSync(out, 'utf8'), /^1: lo:/);
    const lines = ok.stdout.split('\n').filter(Boolean);
    t.is(lines.length, 4, ok.stdout); // three status lines, then cat's copy of a.ip (stdout kept)
    t.regex(ok.stdout, /^1\t0\t\d+\.\d{6}\n/);
    t.true(ok.stdout.includes('link add dlnsrun0 type veth peer name dlnsrun1\n'));
    // The same link again fails: the run stops there (the third command never runs) …
    const stop = spawnSync(built.path!, [na, '-', join(dir, 'again.err'), '=', '3', 'ip', '-batch', join(dir, 'a.ip'), nb, '-', join(dir, 'never'), '-', '2', 'ip', 'link'], { encoding: 'utf8' });
    t.is(stop.status, 1);
    t.regex(stop.stdout, /^1\t[1-9]\d*\t/);
    t.is(stop.stdout.split('\n').filter(Boolean).length, 1);
    t.regex(readFileSync(join(dir, 'again.err'), 'utf8'), /File exists/);
    t.false(existsSync(join(dir, 'never')));
    // … unless -k: every command runs.
    const keep = spawnSync(built.path!, ['-k', na, '-', '/dev/null', '=', '3', 'ip', '-batch', join(dir, 'a.ip'), nb, '-', join(dir, 'ran'), '=', '2', 'ip', 'link'], { encoding: 'utf8' });
    t.is(keep.status, 1);
    t.is(keep.stdout.split('\n').filter(Boolean).length, 2);
    t.true(existsSync(join(dir, 'ran')));
    // A group whose ARGC overruns the list: nothing runs.
    const bad = spawnSync(built.path!, [nb, '-', join(dir, 'bad'), '=', '9', 'ip', 'link'], { encoding: 'utf8' });
    t.is(bad.status, 2);
    t.false(existsSync(join(dir, 'bad')));
  } finally {
    for (const h of holders) h.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dlnsrun @cat: reads a file as the namespace sees it, in-process, and returns to its own namespace', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (setns into network namespaces)');
  const built = ensureNativeTool('dlnsrun');
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlnsrun-cat-'));
  const holder = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const na = `/proc/${holder.pid}/ns/net`;
    // A link made in the namespace shows in that namespace's /proc/self/net/dev only.
    execFileSync('nsenter', ['-t', String(holder.pid), '-n', 'ip', 'link', 'add', 'dlcat0', 'type', 'veth', 'peer', 'name', 'dlcat1']);
    const dev = join(dir, 'dev');
    const after = join(dir, 'after');
    const r = spawnSync(built.path!, [na, '-', dev, '=', '2', '@cat', '/proc/self/net/dev', '/proc/self/ns/net', '-', after, '=', '2', 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.regex(readFileSync(dev, 'utf8'), /dlcat0:/);
    t.notRegex(readFileSync('/proc/self/net/dev', 'utf8'), /dlcat0:/);
    // The next command (forked from dlnsrun after the @cat) still joins its own namespace.
    t.is(readFileSync(after, 'utf8').trim(), execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim());
    t.regex(r.stdout, /^1\t0\t\d+\.\d{6}\n2\t0\t/);
    // A file that does not exist there: status 1, the reason in ERR, and -k goes on.
    const miss = spawnSync(built.path!, ['-k', na, '-', join(dir, 'm.out'), join(dir, 'm.err'), '2', '@cat', '/proc/self/net/no-such-file', na, '-', join(dir, 'm2'), '=', '2', '@cat', '/proc/self/net/dev'], { encoding: 'utf8' });
    t.is(miss.status, 1);
    t.regex(readFileSync(join(dir, 'm.err'), 'utf8'), /no-such-file: No such file/);
    t.regex(readFileSync(join(dir, 'm2'), 'utf8'), /dlcat0:/);
  } finally {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dlnsrun @bg: starts a daemon in its namespace without waiting, and names its pid', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (setns into network namespaces)');
  const built = ensureNativeTool('dlnsrun');
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlnsrun-bg-'));
  const holder = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
  const pids: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 200));
    const na = `/proc/${holder.pid}/ns/net`;
    const log = join(dir, 'd.log');
    // Two daemons and a command after them: dlnsrun returns at once (the daemons sleep 30 s),
    // each daemon's line carries its pid, the command still runs in order.
    const t0 = Date.now();
    const r = spawnSync(built.path!, [na, '/dev/null', log, '=', '4', '@bg', 'sh', '-c', 'echo up; exec sleep 30',
      na, '/dev/null', join(dir, 'd2.log'), '=', '3', '@bg', 'sleep', '31', na, '-', join(dir, 'ns'), '=', '2', 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.true(Date.now() - t0 < 20_000, 'did not wait for the daemons');
    const lines = r.stdout.trim().split('\n').map((l) => l.split('\t'));
    t.is(lines.length, 3, r.stdout);
    for (const l of lines.slice(0, 2)) {
      t.is(l[1], '0');
      t.regex(l[3] ?? '', /^\d+$/);
      pids.push(Number(l[3]));
    }
    t.is(lines[2]!.length, 3); // a waited command's line has no pid
    // Each daemon runs its own argv (the "@bg" word dropped) in the holder's namespace.
    for (let i = 0; i < 100 && !readFileSync(log, 'utf8'); i++) await new Promise((res) => setTimeout(res, 20));
    t.is(readFileSync(log, 'utf8'), 'up\n'); // its output where the group said
    const argv = (p: number) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean);
    for (let i = 0; i < 100 && argv(pids[0]!)[0] !== 'sleep'; i++) await new Promise((res) => setTimeout(res, 20)); // sh execs sleep
    t.deepEqual(argv(pids[0]!), ['sleep', '30']);
    t.deepEqual(argv(pids[1]!), ['sleep', '31']);
    const want = execFileSync('readlink', [na], { encoding: 'utf8' }).trim();
    for (const p of pids) t.is(execFileSync('readlink', [`/proc/${p}/ns/net`], { encoding: 'utf8' }).trim(), want);
    t.is(readFileSync(join(dir, 'ns'), 'utf8').trim(), want);
  } finally {
    for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
