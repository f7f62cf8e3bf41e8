// UDP and SCTP in the evidence: the pcapng decoder and the tcpdump text parser read datagrams
// (no TCP flags) and SCTP's INIT / INIT ACK with the tags that pair them, and the capture filter
// takes the probes' protocols.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from '../../lab/errors.ts';
import { decodeFrame, LINKTYPE_RAW } from '../../lab/evidence/pcapng.ts';
import { parseTcpdump } from '../../lab/evidence/tcpdump.ts';
import { captureFilter } from '../../lab/runners/job.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';

const RAW = { name: 'toolbox:eth0', linktype: LINKTYPE_RAW, tsUnit: 1e-9 };

function ipv4(proto: number, id: number, transport: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + transport.length, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = 64;
  h[9] = proto;
  Buffer.from([10, 217, 120, 9]).copy(h, 12);
  Buffer.from([10, 196, 0, 10]).copy(h, 16);
  return Buffer.concat([h, transport]);
}

test('a UDP datagram decodes with its ports, IP id and length, flagged "UDP"', (t) => {
  const udp = Buffer.alloc(8 + 6);
  udp.writeUInt16BE(40101, 0);
  udp.writeUInt16BE(53, 2);
  udp.writeUInt16BE(14, 4);
  Buffer.from('probe\n').copy(udp, 8);
  const p = decodeFrame({ iface: 0, ts: 1, flags: 2, data: ipv4(17, 4242, udp), origLen: 34 }, RAW)!;
  t.like(p, { proto: 'udp', flags: 'UDP', src: '10.217.120.9', sport: 40101, dst: '10.196.0.10', dport: 53, ipId: 4242, ipLen: 34, dir: 'Out' });
  t.regex(p.raw, /UDP, length 6$/);
});

test('SCTP: the INIT carries its initiate tag as seq, the INIT ACK the same tag as its verification tag (ack)', (t) => {
  const sctp = (vtag: number, type: number, initTag: number) => {
    const b = Buffer.alloc(32);
    b.writeUInt16BE(40101, 0);
    b.writeUInt16BE(80, 2);
    b.writeUInt32BE(vtag, 4);
    b[12] = type;
    b.writeUInt16BE(20, 14);
    b.writeUInt32BE(initTag, 16);
    return b;
  };
  const init = decodeFrame({ iface: 0, ts: 1, flags: 2, data: ipv4(132, 1, sctp(0, 1, 0xdeadbeef)), origLen: 52 }, RAW)!;
  const initAck = decodeFrame({ iface: 0, ts: 2, flags: 1, data: ipv4(132, 2, sctp(0xdeadbeef, 2, 7)), origLen: 52 }, RAW)!;
  t.like(init, { proto: 'sctp', flags: 'INIT', seq: 0xdeadbeef, ack: undefined });
  t.like(initAck, { proto: 'sctp', flags: 'INIT ACK', ack: 0xdeadbeef, seq: undefined });
});

test('tcpdump text: a UDP datagram (even one it decodes as DNS) and an SCTP INIT', (t) => {
  const text = [
    '1764460000.100000 eth0  Out ifindex 2 ee:ee:ee:ee:ee:ee ethertype IPv4 (0x0800), length 54: (tos 0x0, ttl 64, id 4242, offset 0, flags [DF], proto UDP (17), length 34)',
    '    10.217.120.9.40101 > 10.196.0.10.53: 28786+ [28416a] [28261q] [b2&3=0x6f65] [2570au] Type28277 (Class 28271)? [|domain]',
    '1764460000.200000 eth0  Out ifindex 2 ee:ee:ee:ee:ee:ee ethertype IPv4 (0x0800), length 88: (tos 0x2,ECT(0), ttl 64, id 0, offset 0, flags [DF], proto SCTP (132), length 68)',
    '    10.217.120.9.40102 > 10.196.0.20.80: sctp (1) [INIT] [init tag: 3735928559] [rwnd: 106496] [OS: 10] [MIS: 65535] [init TSN: 1]',
  ].join('\n');
  const [udp, init] = parseTcpdump(text, 'toolbox');
  t.like(udp, { proto: 'udp', flags: 'UDP', sport: 40101, dport: 53, ipId: 4242, ipLen: 34 });
  t.like(init, { proto: 'sctp', flags: 'INIT', seq: 3735928559, dport: 80 });
});

test('the capture filter adds the protocols of the probes to TCP, never BGP', (t) => {
  t.is(captureFilter([{ protocol: 'tcp' }]), 'tcp and not port 179');
  t.is(captureFilter([{ protocol: 'udp' }, { protocol: 'tcp' }, { protocol: 'udp' }]), '(tcp or udp) and not port 179');
  t.is(captureFilter([{ protocol: 'sctp' }]), '(tcp or sctp) and not port 179');
});

test('a UDP probe cannot ask for TCP checksums: exit 2 at the field', (t) => {
  const text = readFileSync(`${TOPOLOGY_DIR}/kproxy.yaml`, 'utf8').replace('        protocol: udp\n        expect:\n', '        protocol: udp\n        expect:\n          checksums: true\n');
  t.true(text.includes('checksums: true'));
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-udp-'));
  try {
    writeFileSync(path.join(dir, 'kproxy.yaml'), text);
    const e = t.throws(() => loadTopology(path.join(dir, 'kproxy.yaml')), { instanceOf: InputError }) as InputError;
    t.regex(e.message, /kproxy\.yaml:\d+:\d+: scenarios\[\d+\]\.probes\[0\]\.expect\.checksums: checksums are checked for TCP probes only \(this probe is udp\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
