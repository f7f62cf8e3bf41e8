/**
 * dlpod (lab/runners/native/dlpod.c, built from source) on the host kernel: one process serves TCP
 * and UDP from two lab-named namespaces at once (made here with `ip netns add dl-<random lab>-…`,
 * deleted at the end), with the reply file's bytes; its probe client gives the same status and
 * reply as the socat command the agent ran before it — answered, refused, unanswered, UDP
 * answered, refused and unanswered — and its bulk mode writes the lines the agent's bash loop
 * wrote; many sequential and concurrent connections are all answered; a namespace that is not the
 * lab's (another lab's, a /proc path, the namespace dlpod runs in under a lab name) is refused with
 * exit 2 and no socket; SIGTERM ends it with status 0 and frees its ports. SCTP: dlpod-uml.test.ts
 * (the host kernel here has none). Needs root, gcc with a static libc, socat: a missing
 * prerequisite FAILS the file.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';

const LAB = randomBytes(3).toString('hex');
const ns = (name: string) => `dl-${LAB}-${name}`;
const nsPath = (name: string) => `/run/netns/${ns(name)}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const HTTP = (who: string) => `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\npod=${who}\n`;

interface Run { status: number | null; stdout: string; stderr: string }
const run = (argv: string[], input?: string): Run => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
/** Today's client commands (the agent's fallback), run in the client namespace. */
const socatTcp = (dst: string, port: number, sport: number) =>
  run(['ip', 'netns', 'exec', ns('cli'), 'socat', '-T', '1', '-u', `TCP:${dst}:${port},connect-timeout=1,sourceport=${sport},reuseaddr`, 'STDOUT']);
const socatUdp = (dst: string, port: number, sport: number) =>
  run(['ip', 'netns', 'exec', ns('cli'), 'socat', '-T', '1', '-t', '1', `UDP:${dst}:${port},sourceport=${sport},reuseaddr,null-eof`, 'STDIO'], 'probe p1\n');

/** Client cli with 10.8.1.1 towards srv1 (10.8.1.2) and 10.8.2.1 towards srv2 (10.8.2.2). */
function makeNamespaces(): void {
  for (const n of ['cli', 'srv1', 'srv2']) {
    ip('netns', 'add', ns(n));
    ip('-n', ns(n), 'link', 'set', 'lo', 'up');
  }
  for (const k of [1, 2]) {
    ip('-n', ns('cli'), 'link', 'add', `to${k}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(`srv${k}`));
    ip('-n', ns('cli'), 'addr', 'add', `10.8.${k}.1/24`, 'dev', `to${k}`);
    ip('-n', ns('cli'), 'link', 'set', `to${k}`, 'up');
    ip('-n', ns(`srv${k}`), 'addr', 'add', `10.8.${k}.2/24`, 'dev', 'eth0');
    ip('-n', ns(`srv${k}`), 'link', 'set', 'eth0', 'up');
  }
}

async function ready(p: ChildProcess): Promise<string> {
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const gone = once(p, 'exit').then(() => 'exited');
  while (!out.includes('\n')) {
    if ((await Promise.race([gone, new Promise((r) => setTimeout(r, 20, ''))])) === 'exited') break;
  }
  return out.trim();
}

test.serial('dlpod: one server process for several namespaces; the probe client answers as socat did', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (network namespaces)');
  const built = ensureNativeTool('dlpod');
  t.truthy(built.path, built.error);
  const dlpod = built.path!;
  const dir = mkdtempSync(join(tmpdir(), 'dlpod-test-'));
  let server: ChildProcess | undefined;
  try {
    makeNamespaces();
    const files = { a: join(dir, 'a'), b: join(dir, 'b'), u: join(dir, 'u') };
    writeFileSync(files.a, HTTP('srv1'));
    writeFileSync(files.b, HTTP('srv2'));
    writeFileSync(files.u, 'pod=srv1 udp\n');
    server = spawn(dlpod, ['serve', LAB, nsPath('srv1'), 'tcp', '80', files.a, nsPath('srv1'), 'udp', '53', files.u, nsPath('srv2'), 'tcp', '80', files.b], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.is(await ready(server), 'ready');
    // Its sockets are in the lab namespaces, none in the namespace it runs in (the test's).
    const owned = new RegExp(`0\\.0\\.0\\.0:(80|53)\\s.*pid=${server.pid},`);
    t.notRegex(execFileSync('ss', ['-Hlnptu'], { encoding: 'utf8' }), new RegExp(`pid=${server.pid},`));
    const inSrv1 = execFileSync('ip', ['netns', 'exec', ns('srv1'), 'ss', '-Hlnptu'], { encoding: 'utf8' });
    t.is(inSrv1.split('\n').filter((l) => owned.test(l)).length, 2, inSrv1);

    const probe = (proto: string, dst: string, port: number, sport: number) => run([dlpod, 'probe', LAB, nsPath('cli'), proto, dst, String(port), String(sport), '1', 'probe p1\n']);
    // The reply is the file's bytes, from the namespace the address lives in.
    const a = probe('tcp', '10.8.1.2', 80, 40101);
    t.deepEqual([a.status, a.stdout], [0, HTTP('srv1')]);
    const b = probe('tcp', '10.8.2.2', 80, 40102);
    t.deepEqual([b.status, b.stdout], [0, HTTP('srv2')]);
    const u = probe('udp', '10.8.1.2', 53, 40103);
    t.deepEqual([u.status, u.stdout], [0, 'pod=srv1 udp\n']);
    // UDP: the reply datagram, then an empty one (what ends socat's null-eof client at once).
    const grams = run(['ip', 'netns', 'exec', ns('cli'), 'python3', '-c',
      'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("10.8.1.2", 53)); s.send(b"probe p1\\n"); print(len(s.recv(9000)), len(s.recv(9000)))']);
    t.is(grams.stdout.trim(), '13 0', grams.stderr);
    // Status and reply as socat's, in every case probes.out records.
    const cases: [string, (sport: number) => Run, (sport: number) => Run][] = [
      ['tcp answered', (s) => probe('tcp', '10.8.1.2', 80, s), (s) => socatTcp('10.8.1.2', 80, s)],
      ['tcp refused', (s) => probe('tcp', '10.8.1.2', 81, s), (s) => socatTcp('10.8.1.2', 81, s)],
      ['tcp unanswered', (s) => probe('tcp', '10.8.1.99', 80, s), (s) => socatTcp('10.8.1.99', 80, s)],
      ['udp answered', (s) => probe('udp', '10.8.1.2', 53, s), (s) => socatUdp('10.8.1.2', 53, s)],
      ['udp refused', (s) => probe('udp', '10.8.1.2', 54, s), (s) => socatUdp('10.8.1.2', 54, s)],
      ['udp unanswered', (s) => probe('udp', '10.8.1.99', 53, s), (s) => socatUdp('10.8.1.99', 53, s)],
    ];
    let sport = 40200;
    for (const [what, ours, theirs] of cases) {
      const x = ours(++sport);
      const y = theirs(++sport);
      t.deepEqual([x.status, x.stdout], [y.status, y.stdout], `${what}: dlpod ${x.status} ${JSON.stringify(x.stdout)} (${x.stderr.trim()}), socat ${y.status} ${JSON.stringify(y.stdout)}`);
    }
    t.is(probe('tcp', '10.8.1.2', 81, 40300).status, 1, 'refused is status 1');
    t.is(probe('tcp', '10.8.1.2', 81, 40300).stdout, '');
    // The given source port is the one the server sees (socat reports its peer's port).
    const echo = spawn('ip', ['netns', 'exec', ns('srv2'), 'socat', 'TCP-LISTEN:9000,reuseaddr', 'SYSTEM:echo $SOCAT_PEERPORT'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    t.is(probe('tcp', '10.8.2.2', 9000, 40555).stdout.trim(), '40555');
    echo.kill();

    // Bulk: the lines the agent's bash loop wrote (bash's /dev/tcp, read line by line), 50 of them.
    const bulk = run([dlpod, 'bulk', LAB, nsPath('cli'), 'tcp', '10.8.2.2', '80', '50', '1']);
    t.is(bulk.status, 0, bulk.stderr);
    const bash = run(['ip', 'netns', 'exec', ns('cli'), 'bash', '-c', `for ((i = 1; i <= 50; i++)); do
      if exec 3<>/dev/tcp/10.8.2.2/80; then body=""; while IFS= read -r -t 1 line <&3; do body+="\${line//$'\\r'/} "; done; exec 3<&- 3>&-; printf "%s\\t0\\t%s\\n" "$i" "$body"; else printf "%s\\t1\\t\\n" "$i"; fi
    done`]);
    t.is(bulk.stdout, bash.stdout);
    t.is(bulk.stdout.split('\n').filter((l) => /^\d+\t0\tHTTP\/1\.0 200 OK .*pod=srv2 $/.test(l)).length, 50);
    const ubulk = run([dlpod, 'bulk', LAB, nsPath('cli'), 'udp', '10.8.1.2', '53', '3', '1']);
    t.is(ubulk.stdout, '1\t0\tpod=srv1 udp\n2\t0\tpod=srv1 udp\n3\t0\tpod=srv1 udp\n');
    const refused = run([dlpod, 'bulk', LAB, nsPath('cli'), 'tcp', '10.8.1.2', '81', '2', '1']);
    t.is(refused.stdout, '1\t1\t\n2\t1\t\n');

    // Concurrent clients: 8 bulk runs of 25 connections each at once, every one answered.
    const conc = await Promise.all(Array.from({ length: 8 }, (_, k) => new Promise<string>((resolve) => {
      const c = spawn(dlpod, ['bulk', LAB, nsPath('cli'), 'tcp', `10.8.${(k % 2) + 1}.2`, '80', '25', '2'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let o = '';
      c.stdout!.on('data', (d: Buffer) => { o += d.toString(); });
      c.on('close', () => resolve(o));
    })));
    t.is(conc.join('').split('\n').filter((l) => /^\d+\t0\t.*pod=srv[12] $/.test(l)).length, 200);

    // SIGTERM: status 0, the ports are free again in their namespaces.
    server.kill('SIGTERM');
    const [code] = (await once(server, 'exit')) as [number];
    t.is(code, 0);
    t.notRegex(execFileSync('ip', ['netns', 'exec', ns('srv1'), 'ss', '-Hltnu'], { encoding: 'utf8' }), /:(80|53)\s/);
    t.is(probe('tcp', '10.8.1.2', 80, 40301).status, 1);
  } finally {
    server?.kill('SIGKILL');
    for (const n of ['cli', 'srv1', 'srv2']) spawnSync('ip', ['netns', 'del', ns(n)]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('dlpod refuses a namespace that is not the lab\'s, and the namespace it runs in', (t) => {
  t.is(process.getuid?.(), 0, 'needs root (bind mounts under /run/netns)');
  const built = ensureNativeTool('dlpod');
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlpod-refuse-'));
  const own = `/run/netns/${ns('own')}`;
  try {
    writeFileSync(join(dir, 'r'), 'x\n');
    const other = LAB === 'abcdef' ? 'abcdee' : 'abcdef';
    for (const p of [`/proc/${process.pid}/ns/net`, `/run/netns/dl-${other}-srv`, `/run/netns/dl-${LAB}-../x`, '/run/netns/dl-' + LAB]) {
      const r = run([built.path!, 'serve', LAB, p, 'tcp', '80', join(dir, 'r')]);
      t.is(r.status, 2, `${p}: ${r.stderr}`);
      t.regex(r.stderr, /not a namespace of this lab/);
      t.is(run([built.path!, 'probe', LAB, p, 'tcp', '10.0.0.1', '80', '0', '1', 'x']).status, 2);
    }
    // A lab-looking name bound to the namespace dlpod runs in (the root namespace here).
    writeFileSync(own, '');
    execFileSync('mount', ['--bind', '/proc/self/ns/net', own]);
    const r = run([built.path!, 'serve', LAB, own, 'tcp', '80', join(dir, 'r')]);
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, /the namespace dlpod runs in/);
    t.is(run([built.path!, 'bulk', LAB, own, 'tcp', '10.0.0.1', '80', '1', '1']).status, 2);
    t.is(run([built.path!, 'serve', 'NOTLAB', own, 'tcp', '80', join(dir, 'r')]).status, 2);
  } finally {
    spawnSync('umount', [own]);
    rmSync(own, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
