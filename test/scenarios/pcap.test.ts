// `lab scenario ID --pcap FILE` hands the run's capture to the user: one pcapng holding every
// captured interface, each named object:iface, that our reader and `tcpdump -r` both open. Native
// (kproxy-1 runs on the host kernel; root, as the scenario tests are).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPcapng, packetsFromPcapng } from '../../lab/evidence/pcapng.ts';

const cli = path.join(import.meta.dirname, '..', '..', 'lab', 'cli.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-pcap-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('scenario --pcap writes one pcapng of every interface, named object:iface, that tcpdump -r opens', (t) => {
  const file = path.join(dir, 'kproxy-1.pcapng');
  const r = spawnSync(process.execPath, [cli, 'scenario', 'kproxy-1', '--runner', 'native', '--pcap', file], { encoding: 'utf8', timeout: 300_000 });
  t.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stderr, /capture written to /);
  const { interfaces, frames } = readPcapng(readFileSync(file));
  t.true(interfaces.length > 1, 'more than one interface');
  for (const i of interfaces) t.regex(i.name, /^[A-Za-z0-9_.-]+:[A-Za-z0-9_.@-]+$/, `interface name ${i.name}`);
  t.true(frames.length > 0, 'no frame captured');
  // The probe's SYN (client → the service's address) is in it.
  t.true(packetsFromPcapng(readFileSync(file)).some((p) => p.flags === 'S'), 'no SYN in the capture');
  const d = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
  t.is(d.status, 0, d.stderr);
  t.is(d.stdout.trim().split('\n').length, frames.length, 'tcpdump reads every frame');
});

test('scenario --pcap into a folder that does not exist is refused before anything runs', (t) => {
  const r = spawnSync(process.execPath, [cli, 'scenario', 'kproxy-1', '--runner', 'native', '--pcap', path.join(dir, 'missing', 'x.pcapng')], { encoding: 'utf8' });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /--pcap/);
});
