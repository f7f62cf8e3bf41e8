/**
 * The lab's capture process on the host kernel: dlcap (lab/runners/native/dlcap.c, built from
 * source) opens one packet socket in each of two throw-away network namespaces — held by
 * `unshare -n` processes, so nothing is left behind — before their veth pair exists, records a
 * TCP exchange and an ICMP echo, and stops on SIGINT. The pcapng stream is read back by
 * lab/evidence/pcapng.ts (the filter kept TCP only, both directions on both sides, interfaces
 * named object:ifname) and opened by `tcpdump -r`.
 * Needs root, gcc, libpcap-dev, socat and tcpdump: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { ensureDlcap } from '../../lab/runners/native-tools.ts';
import { packetsFromPcapng, readPcapng } from '../../lab/evidence/pcapng.ts';
import { isSyn, isSynAck } from '../../lab/evidence/tcpdump.ts';

const run = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (pid: number, argv: string[]) => run(['nsenter', '-t', String(pid), '-n', ...argv]);

test('dlcap: one process, two namespaces, one pcapng stream that the reader and tcpdump agree on', async (t) => {
  t.is(process.getuid?.(), 0, 'needs root (network namespaces, packet sockets)');
  const built = ensureDlcap();
  t.truthy(built.path, built.error);
  const dir = mkdtempSync(join(tmpdir(), 'dlcap-test-'));
  const holders: ChildProcess[] = [];
  let cap: ChildProcess | undefined;
  try {
    for (let i = 0; i < 2; i++) {
      const h = spawn('unshare', ['-n', 'sleep', '120'], { stdio: 'ignore' });
      holders.push(h);
    }
    await new Promise((r) => setTimeout(r, 200));
    const [a, b] = holders.map((h) => h.pid!) as [number, number];
    const file = join(dir, 'lab.pcapng');
    cap = spawn(built.path!, [file, 'tcp and not port 179', `client=/proc/${a}/ns/net`, `server=/proc/${b}/ns/net`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = (await once(cap.stdout!, 'data')) as [Buffer];
    t.is(line.toString().trim(), 'ready');
    // Interfaces created after the sockets were opened: captured too (the sockets are unbound).
    inNs(a, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', String(b)]);
    inNs(a, ['ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'eth0']);
    inNs(a, ['ip', 'link', 'set', 'eth0', 'up']);
    inNs(b, ['ip', 'addr', 'add', '10.9.0.2/24', 'dev', 'eth1']);
    inNs(b, ['ip', 'link', 'set', 'eth1', 'up']);
    const server = spawn('nsenter', ['-t', String(b), '-n', 'socat', 'TCP-LISTEN:80,reuseaddr', 'SYSTEM:echo hello'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    t.is(inNs(a, ['socat', '-T', '5', '-u', 'TCP:10.9.0.2:80,connect-timeout=5,sourceport=40101', 'STDOUT']).trim(), 'hello');
    inNs(a, ['ping', '-c', '1', '-W', '2', '10.9.0.2']);
    server.kill();
    // After the SIGINT: "done" once the stream is whole on disk (the agent waits for that line,
    // not for the exit, which closes the packet sockets), then exit 0 with the file unchanged.
    let said = '';
    const done = new Promise<Buffer>((resolve) => cap!.stdout!.on('data', (d: Buffer) => { said += d.toString(); if (said.includes('done\n')) resolve(readFileSync(file)); }));
    cap.kill('SIGINT');
    const atDone = await done;
    const [code] = (await once(cap, 'exit')) as [number];
    t.is(code, 0);
    t.is(said, 'done\n');

    const buf = readFileSync(file);
    t.true(atDone.equals(buf), 'the stream was complete when dlcap said done');
    t.deepEqual(readPcapng(buf).interfaces.map((i) => i.name).sort(), ['client:eth0', 'server:eth1']);
    const pkts = packetsFromPcapng(buf);
    t.true(pkts.every((p) => p.sport === 80 || p.dport === 80), 'the filter kept TCP port 80 only (no ICMP)');
    const syns = pkts.filter(isSyn);
    t.deepEqual(syns.map((p) => `${p.object}:${p.ifname} ${p.dir} ${p.src}:${p.sport} > ${p.dst}:${p.dport}`),
      ['client:eth0 Out 10.9.0.1:40101 > 10.9.0.2:80', 'server:eth1 In 10.9.0.1:40101 > 10.9.0.2:80']);
    t.is(syns[0]!.seq, syns[1]!.seq);
    const synack = pkts.filter(isSynAck);
    t.is(synack.length, 2);
    t.is(synack[0]!.ack, (syns[0]!.seq! + 1) % 2 ** 32);
    t.true(pkts.some((p) => p.flags.includes('P') && p.src === '10.9.0.2'), 'the answer was captured');
    // tcpdump reads the same file (what `--pcap FILE` hands to a user).
    const text = run(['tcpdump', '-r', file, '-nn', '-S']);
    t.is(text.trim().split('\n').length, pkts.length);
    t.regex(text, /10\.9\.0\.1\.40101 > 10\.9\.0\.2\.80: Flags \[S\]/);
  } finally {
    cap?.kill('SIGKILL');
    for (const h of holders) h.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
