// The pcapng reader on streams built here byte by byte: interface names and link types, the
// direction flags, 802.1Q tags, raw-IP interfaces, both byte orders, a stream cut short.
import test from 'ava';
import { decodeFrame, LINKTYPE_ETHERNET, LINKTYPE_RAW, packetsFromPcapng, readPcapng } from '../../lab/evidence/pcapng.ts';
import { classifyChecksum, pseudoHeaderSum } from '../../lab/checks/checksum.ts';

type U32 = (n: number) => Buffer;
const le: U32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const be: U32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const pad4 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

function block(u32: U32, type: number, body: Buffer): Buffer {
  const len = 12 + body.length;
  return Buffer.concat([u32(type), u32(len), body, u32(len)]);
}
function opt(u32: U32, code: number, value: Buffer): Buffer {
  const h = u32((code << 16) | value.length); // code and length as two u16 in the stream's order
  const hb = u32 === le ? Buffer.from([code & 0xff, code >> 8, value.length & 0xff, value.length >> 8]) : h;
  return Buffer.concat([hb, pad4(value)]);
}
const end = (u32: U32) => u32(0);
function shb(u32: U32): Buffer {
  const order = u32 === le ? Buffer.from([0x4d, 0x3c, 0x2b, 0x1a]) : Buffer.from([0x1a, 0x2b, 0x3c, 0x4d]);
  const ver = u32 === le ? Buffer.from([1, 0, 0, 0]) : Buffer.from([0, 1, 0, 0]);
  return block(u32, 0x0a0d0d0a, Buffer.concat([order, ver, Buffer.alloc(8, 0xff)]));
}
function idb(u32: U32, linktype: number, name: string, tsresol = 9): Buffer {
  const lt = u32 === le ? Buffer.from([linktype & 0xff, linktype >> 8, 0, 0]) : Buffer.from([linktype >> 8, linktype & 0xff, 0, 0]);
  return block(u32, 1, Buffer.concat([lt, u32(262144), opt(u32, 2, Buffer.from(name)), opt(u32, 9, Buffer.from([tsresol])), end(u32)]));
}
function epb(u32: U32, iface: number, tsNs: bigint, data: Buffer, flags?: number): Buffer {
  const opts = flags === undefined ? Buffer.alloc(0) : Buffer.concat([opt(u32, 2, u32(flags)), end(u32)]);
  return block(u32, 6, Buffer.concat([u32(iface), u32(Number(tsNs >> 32n)), u32(Number(tsNs & 0xffffffffn)), u32(data.length), u32(data.length), pad4(data), opts]));
}

/** An IPv4/TCP segment (no payload) with a correct checksum, or the given checksum field. */
function tcpIp(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, cksum?: number): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; ip.writeUInt16BE(40, 2); ip.writeUInt16BE(7653, 4); ip[8] = 64; ip[9] = 6;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0); tcp.writeUInt16BE(dport, 2); tcp.writeUInt32BE(seq, 4); tcp.writeUInt32BE(ack, 8);
  tcp[12] = 5 << 4; tcp[13] = flags; tcp.writeUInt16BE(64240, 14);
  let s = pseudoHeaderSum(src, dst, 20);
  for (let i = 0; i < 20; i += 2) s += tcp.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  tcp.writeUInt16BE(cksum ?? (~s & 0xffff), 16);
  return Buffer.concat([ip, tcp]);
}
const eth = (payload: Buffer, vlan?: number) => Buffer.concat([
  Buffer.from('00163e0000010a0000000002', 'hex'),
  vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff]),
  Buffer.from([0x08, 0x00]), payload,
]);

test('pcapng: interfaces named object:ifname, direction, VLAN tag, sequence numbers, checksum verdicts', (t) => {
  const syn = tcpIp('10.0.1.91', '10.0.3.58', 40101, 80, 0x02, 77582719, 0);
  const partial = tcpIp('10.0.1.91', '10.0.3.58', 40101, 80, 0x02, 77582719, 0, pseudoHeaderSum('10.0.1.91', '10.0.3.58', 20));
  const synack = tcpIp('10.0.3.58', '10.0.1.91', 80, 40101, 0x12, 1939741229, 77582720);
  const arp = Buffer.concat([Buffer.alloc(12), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
  const buf = Buffer.concat([
    shb(le),
    idb(le, LINKTYPE_ETHERNET, 'centos:eth0'),
    epb(le, 0, 1795303245264886000n, eth(partial), 2),
    idb(le, LINKTYPE_ETHERNET, 'ecs1:eth1'),
    epb(le, 1, 1795303245265010000n, eth(syn, 1005), 2),
    epb(le, 1, 1795303245265020000n, eth(synack, 1005), 1 | (4 << 2)),
    epb(le, 0, 1795303245265030000n, eth(synack), 1 | (3 << 2)), // broadcast: never a probe's
    epb(le, 0, 1795303245265040000n, eth(arp), 1),
  ]);
  const { interfaces, frames } = readPcapng(buf);
  t.deepEqual(interfaces.map((i) => i.name), ['centos:eth0', 'ecs1:eth1']);
  t.is(frames.length, 5);
  const p = packetsFromPcapng(buf);
  t.is(p.length, 3);
  t.like(p[0], { object: 'centos', ifname: 'eth0', dir: 'Out', src: '10.0.1.91', sport: 40101, dst: '10.0.3.58', dport: 80, flags: 'S', seq: 77582719, ack: undefined, ttl: 64, ipId: 7653, cksumOk: false, vlan: undefined });
  t.is(p[0]!.ts.toFixed(6), '1795303245.264886');
  t.is(classifyChecksum(p[0]!).kind, 'partial');
  t.like(p[1], { object: 'ecs1', ifname: 'eth1', dir: 'Out', vlan: 1005, cksumOk: true });
  t.is(classifyChecksum(p[1]!).kind, 'full');
  t.like(p[2], { dir: 'In', otherHost: true, flags: 'S.', seq: 1939741229, ack: 77582720, vlan: 1005 });
});

test('pcapng: big-endian sections, raw-IP interfaces, microsecond stamps, a stream cut short', (t) => {
  const fin = tcpIp('192.168.0.1', '192.168.0.2', 1234, 80, 0x11, 5, 6);
  const whole = Buffer.concat([shb(be), idb(be, LINKTYPE_RAW, 'vpc:tun0', 6), epb(be, 0, 1795303245000001n, fin, 1)]);
  const cut = Buffer.concat([whole, epb(be, 0, 1795303245000002n, fin, 1).subarray(0, 30)]);
  const p = packetsFromPcapng(cut);
  t.is(p.length, 1);
  t.like(p[0], { object: 'vpc', ifname: 'tun0', dir: 'In', flags: 'F.', seq: 5, ack: 6 });
  t.is(p[0]!.ts.toFixed(6), '1795303245.000001');
  t.is(decodeFrame({ iface: 0, ts: 0, data: Buffer.alloc(10), origLen: 10 }, { name: 'x:y', linktype: LINKTYPE_RAW, tsUnit: 1e-9 }), undefined);
});
