/**
 * dldown (lab/runners/native/dldown.c, built from source) tears a lab down from one process: a
 * recorded pid is killed only with its start time, every process inside a named namespace is
 * killed and the namespace removed (as `ip netns delete`), a control socket unlinked, a pin folder
 * removed with its contents (in a private mount namespace with its own bpffs), and a malformed
 * list does nothing (exit 2). Namespaces are throw-away `dl-dd…` names. Needs root and gcc: a
 * missing prerequisite FAILS the file.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';

const startTime = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19]!;
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const exited = (pid: number) => new Promise<boolean>((r) => {
  let n = 0;
  const t = setInterval(() => {
    let gone = false;
    try { gone = /^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { gone = true; }
    if (gone || ++n > 100) { clearInterval(t); r(gone); }
  }, 20);
});

test('dldown: kills a recorded pid only with its start time, flushes and removes namespaces, unlinks sockets', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (namespaces under /run/netns)');
  const built = ensureNativeTool('dldown');
  t.truthy(built.path, built.error);
  const id = `dd${randomBytes(2).toString('hex')}`;
  const ns = [`dl-${id}-a`, `dl-${id}-b`];
  const ctl = `/run/dl-${id}-a.ctl`;
  for (const n of ns) execFileSync('ip', ['netns', 'add', n]);
  const inside = ns.map((n) => spawn('ip', ['netns', 'exec', n, 'sleep', '60'], { stdio: 'ignore' }));
  const recorded = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    writeFileSync(ctl, '');
    await new Promise((r) => setTimeout(r, 300));
    const pid = recorded.pid!;
    // A start time that is not the process's: left alone.
    const wrong = spawnSync(built.path!, ['k', String(pid), String(Number(startTime(pid)) + 1)], { encoding: 'utf8' });
    t.is(wrong.status, 0, wrong.stderr);
    await new Promise((r) => setTimeout(r, 100));
    t.true(alive(pid), 'still running');
    // A malformed list (a namespace path outside /run/netns) does nothing at all.
    const bad = spawnSync(built.path!, ['k', String(pid), startTime(pid), 'n', '/etc/passwd'], { encoding: 'utf8' });
    t.is(bad.status, 2);
    t.regex(bad.stderr, /operand 4 \(n\)/);
    await new Promise((r) => setTimeout(r, 100));
    t.true(alive(pid), 'still running');
    for (const [op, arg] of [['u', '/run/x/../y.ctl'], ['u', '/etc/passwd'], ['r', '/tmp'], ['n', '/run/netns/a/b'], ['k', '1']]) {
      t.is(spawnSync(built.path!, [op!, arg!]).status, 2, `${op} ${arg} is refused`);
    }
    // The journal's reverse order: the daemon, the socket, then the namespaces.
    const ok = spawnSync(built.path!, ['k', String(pid), startTime(pid), 'u', ctl, 'n', `/run/netns/${ns[0]}`, 'n', `/run/netns/${ns[1]}`], { encoding: 'utf8' });
    t.is(ok.status, 0, ok.stderr);
    t.true(await exited(pid), 'the recorded process is killed');
    for (const p of inside) t.true(await exited(p.pid!), 'a process inside a namespace is killed');
    t.false(existsSync(ctl));
    for (const n of ns) t.false(existsSync(`/run/netns/${n}`), `${n} removed`);
    t.notRegex(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(id));
    // Again: everything is gone already, which is not an error.
    t.is(spawnSync(built.path!, ['u', ctl, 'n', `/run/netns/${ns[0]}`]).status, 0);
  } finally {
    for (const p of [recorded, ...inside]) p.kill('SIGKILL');
    for (const n of ns) spawnSync('ip', ['netns', 'delete', n]);
    spawnSync('rm', ['-f', ctl]);
  }
});

test('dldown: removes a pin folder with what it holds (a private bpffs)', (t) => {
  t.is(process.getuid?.(), 0, 'needs root (mounts bpffs in its own mount namespace)');
  const built = ensureNativeTool('dldown');
  t.truthy(built.path, built.error);
  // unshare -m: the mount and the folders exist only in this throw-away mount namespace.
  const script = 'mount -t bpf bpf /sys/fs/bpf && mkdir -p /sys/fs/bpf/dl-dd0000/a/b /sys/fs/bpf/dl-dd0000/c && "$1" r /sys/fs/bpf/dl-dd0000 && ls -A /sys/fs/bpf';
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', built.path!], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.notRegex(r.stdout, /dl-dd0000/);
});
