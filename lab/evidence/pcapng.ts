// Reads the lab's capture: one pcapng stream (written by lab/runners/native/dlcap.c) holding the
// packets of every lab namespace, one interface per (namespace, ifindex) named "<object>:<ifname>".
// Produces the same Packet records as the tcpdump text parser (lab/evidence/tcpdump.ts), decoded
// from the bytes: Ethernet (with 802.1Q/802.1ad tags) or raw IP, IPv4, TCP, UDP and SCTP.
// Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html — SHB (0x0A0D0D0A),
// IDB (1: linktype, if_name = option 2, if_tsresol = option 9), EPB (6: epb_flags = option 2,
// bits 0-1 direction 1 in / 2 out, bits 2-4 reception 1 unicast 2 multicast 3 broadcast 4 promiscuous).
import type { Packet } from './tcpdump.ts';

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

export interface PcapngInterface {
  name: string;
  linktype: number;
  /** Seconds per timestamp unit. */
  tsUnit: number;
}

export interface PcapngFrame {
  iface: number;
  ts: number; // epoch seconds
  flags?: number;
  data: Buffer;
  origLen: number;
}

/** Interfaces and frames of a pcapng file (every section; little- or big-endian). */
export function readPcapng(buf: Buffer): { interfaces: PcapngInterface[]; frames: PcapngFrame[] } {
  const interfaces: PcapngInterface[] = [];
  const frames: PcapngFrame[] = [];
  let le = true;
  let base = 0; // interface ids are per section
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  let off = 0;
  while (off + 12 <= buf.length) {
    const type = buf.readUInt32LE(off); // the SHB type is a palindrome; others are read after the magic
    if (type === 0x0a0d0d0a) {
      const magic = buf.readUInt32LE(off + 8);
      if (magic === 0x1a2b3c4d) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else throw new Error(`pcapng: bad byte-order magic at ${off}`);
      base = interfaces.length;
    }
    const t = u32(off);
    const len = u32(off + 4);
    if (len < 12 || len % 4 !== 0 || off + len > buf.length) break; // a stream cut short: keep what is whole
    if (t === 1) {
      const opts = options(buf, off + 16, off + len - 4, u16);
      const res = opts.get(9)?.[0];
      const tsUnit = res === undefined ? 1e-6 : res & 0x80 ? 2 ** -(res & 0x7f) : 10 ** -res;
      interfaces.push({ linktype: u16(off + 8), name: opts.get(2)?.toString('utf8').replace(/\0+$/, '') ?? `if${interfaces.length - base}`, tsUnit });
    } else if (t === 6) {
      const id = base + u32(off + 8);
      const iface = interfaces[id];
      const caplen = u32(off + 20);
      const data = buf.subarray(off + 28, off + 28 + caplen);
      const opts = options(buf, off + 28 + ((caplen + 3) & ~3), off + len - 4, u16);
      const fl = opts.get(2);
      const ticks = u32(off + 12) * 2 ** 32 + u32(off + 16);
      // Integer seconds and the fraction apart: ns ticks exceed 2^53 only after the year 2255, but the product loses µs.
      const perSec = iface ? Math.round(1 / iface.tsUnit) : 1e6;
      const ts = Math.floor(ticks / perSec) + (ticks % perSec) / perSec;
      frames.push({ iface: id, ts, flags: fl && fl.length >= 4 ? (le ? fl.readUInt32LE(0) : fl.readUInt32BE(0)) : undefined, data, origLen: u32(off + 24) });
    }
    off += len;
  }
  return { interfaces, frames };
}

function options(buf: Buffer, from: number, to: number, u16: (o: number) => number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let o = from;
  while (o + 4 <= to) {
    const code = u16(o);
    const len = u16(o + 2);
    if (code === 0) break;
    m.set(code, buf.subarray(o + 4, o + 4 + len));
    o += 4 + ((len + 3) & ~3);
  }
  return m;
}

// tcpdump's flag letters, in its order (print-tcp.c tcp_flag_values): FIN SYN RST PSH ACK URG ECE CWR.
const FLAG_LETTERS: [number, string][] = [[0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W']];

const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** The one's-complement sum of the TCP segment and its IPv4 pseudo-header (0xffff = valid). */
function tcpSum(b: Buffer, ipOff: number, tcpOff: number, tcpLen: number): number {
  let s = 6 + tcpLen;
  for (let i = 0; i < 8; i += 2) s += b.readUInt16BE(ipOff + 12 + i);
  for (let i = 0; i + 1 < tcpLen; i += 2) s += b.readUInt16BE(tcpOff + i);
  if (tcpLen % 2) s += b[tcpOff + tcpLen - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

// SCTP chunk types by number (RFC 9260 section 3.2), as tcpdump names them in brackets.
const SCTP_CHUNKS: Record<number, string> = {
  0: 'DATA', 1: 'INIT', 2: 'INIT ACK', 3: 'SACK', 4: 'HB REQ', 5: 'HB ACK', 6: 'ABORT', 7: 'SHUTDOWN',
  8: 'SHUTDOWN ACK', 9: 'ERROR', 10: 'COOKIE ECHO', 11: 'COOKIE ACK', 14: 'SHUTDOWN COMPLETE',
};

/**
 * A UDP datagram or SCTP packet (after the IPv4 header at o, transport at t) as a Packet: UDP has
 * no flags ("UDP"); SCTP's flags name its first chunk, and the association's tags play the part of
 * TCP's sequence numbers: an INIT's initiate tag is its `seq`, and the INIT ACK answering it
 * carries that tag as its verification tag, its `ack` (RFC 9260 sections 3.1 and 5.1).
 */
function datagram(b: Buffer, o: number, t: number, proto: 17 | 132): Pick<Packet, 'proto' | 'flags' | 'seq' | 'ack' | 'cksum'> & { detail: string } | undefined {
  if (proto === 17) {
    if (b.length < t + 8) return undefined;
    return { proto: 'udp', flags: 'UDP', cksum: b.readUInt16BE(t + 6), detail: `UDP, length ${b.readUInt16BE(t + 4) - 8}` };
  }
  if (b.length < t + 16) return undefined;
  const vtag = b.readUInt32BE(t + 4);
  const type = b[t + 12]!;
  const chunk = SCTP_CHUNKS[type] ?? `chunk ${type}`;
  const initTag = (type === 1 || type === 2) && b.length >= t + 20 ? b.readUInt32BE(t + 16) : undefined;
  return {
    proto: 'sctp', flags: chunk, seq: type === 1 ? initTag : undefined, ack: type === 2 ? vtag : undefined, cksum: b.readUInt32BE(t + 8),
    detail: `sctp [${chunk}] vtag ${vtag}${initTag !== undefined ? ` [init tag: ${initTag}]` : ''}`,
  };
}

/** A captured frame as a Packet, or undefined when it is not IPv4 TCP, UDP or SCTP (or not sent/received). */
export function decodeFrame(f: PcapngFrame, iface: PcapngInterface): Packet | undefined {
  const colon = iface.name.lastIndexOf(':'); // interface names never contain ':' (dev_valid_name)
  const object = colon < 0 ? '' : iface.name.slice(0, colon);
  const ifname = iface.name.slice(colon + 1);
  const dirBits = (f.flags ?? 1) & 3;
  const reception = ((f.flags ?? 0) >> 2) & 7;
  if (reception === 2 || reception === 3) return undefined; // multicast, broadcast: never a probe's packet
  const b = f.data;
  let o = 0;
  let vlan: number | undefined;
  if (iface.linktype === LINKTYPE_ETHERNET) {
    if (b.length < 14) return undefined;
    let type = b.readUInt16BE(12);
    o = 14;
    while ((type === 0x8100 || type === 0x88a8) && b.length >= o + 4) {
      vlan ??= b.readUInt16BE(o) & 0x0fff; // the outermost tag, as tcpdump prints first
      type = b.readUInt16BE(o + 2);
      o += 4;
    }
    if (type !== 0x0800) return undefined;
  } else if (iface.linktype !== LINKTYPE_RAW) return undefined;
  if (b.length < o + 20 || b[o]! >> 4 !== 4) return undefined;
  const ihl = (b[o]! & 0x0f) * 4;
  const ipLen = b.readUInt16BE(o + 2);
  const fragment = b.readUInt16BE(o + 6) & 0x3fff;
  const proto = b[o + 9]!;
  if ((proto !== 6 && proto !== 17 && proto !== 132) || fragment !== 0) return undefined;
  const t = o + ihl;
  const ttl = b[o + 8]!;
  const ipId = b.readUInt16BE(o + 4);
  if (proto !== 6) {
    const d = datagram(b, o, t, proto);
    if (!d || b.length < t + 4) return undefined;
    const { detail, ...fields } = d;
    const src = ip4(b, o + 12);
    const dst = ip4(b, o + 16);
    const sport = b.readUInt16BE(t);
    const dport = b.readUInt16BE(t + 2);
    return {
      object, ts: f.ts, ifname, dir: dirBits === 2 ? 'Out' : 'In', otherHost: reception === 4 ? true : undefined,
      vlan, ttl, ipId, src, sport, dst, dport, ...fields, ipLen, ipHeaderLen: ihl,
      raw: `${vlan !== undefined ? `vlan ${vlan}, ` : ''}ttl ${ttl}, id ${ipId}, length ${ipLen}: ${src}.${sport} > ${dst}.${dport}: ${detail}`,
    };
  }
  if (b.length < t + 20) return undefined;
  const fl = b[t + 13]!;
  const dataOff = (b[t + 12]! >> 4) * 4;
  const tcpLen = ipLen - ihl;
  const payload = tcpLen - dataOff;
  const flags = FLAG_LETTERS.filter(([bit]) => fl & bit).map(([, c]) => c).join('') || 'none';
  const cksum = b.readUInt16BE(t + 16);
  // Verifiable only when the whole segment was captured (tcpdump -v likewise).
  const cksumOk = tcpLen >= 20 && b.length >= t + tcpLen ? tcpSum(b, o, t, tcpLen) === 0xffff : undefined;
  const src = ip4(b, o + 12);
  const dst = ip4(b, o + 16);
  const sport = b.readUInt16BE(t);
  const dport = b.readUInt16BE(t + 2);
  // tcpdump -S prints seq for SYN/FIN/RST or data, ack when ACK is set.
  const seq = fl & 0x07 || payload > 0 ? b.readUInt32BE(t + 4) : undefined;
  const ack = fl & 0x10 ? b.readUInt32BE(t + 8) : undefined;
  return {
    object, ts: f.ts, ifname, dir: dirBits === 2 ? 'Out' : 'In', otherHost: reception === 4 ? true : undefined,
    vlan, ttl, ipId, src, sport, dst, dport, flags, seq, ack, cksumOk, cksum, ipLen, ipHeaderLen: ihl,
    raw: `${vlan !== undefined ? `vlan ${vlan}, ` : ''}ttl ${ttl}, id ${ipId}, length ${ipLen}: ${src}.${sport} > ${dst}.${dport}: Flags [${flags}], cksum 0x${cksum.toString(16).padStart(4, '0')} (${cksumOk === undefined ? 'not verified' : cksumOk ? 'correct' : 'incorrect'})${seq !== undefined ? `, seq ${seq}` : ''}${ack !== undefined ? `, ack ${ack}` : ''}, length ${payload}`,
  };
}

/** Every IPv4 TCP, UDP and SCTP packet of a lab capture, in time order. */
export function packetsFromPcapng(buf: Buffer): Packet[] {
  const { interfaces, frames } = readPcapng(buf);
  const out: Packet[] = [];
  for (const f of frames) {
    const iface = interfaces[f.iface];
    const p = iface && decodeFrame(f, iface);
    if (p) out.push(p);
  }
  return out.sort((a, b) => a.ts - b.ts);
}
