// Evidence: parses tcpdump's text output (-i any -nn -tt -e -v -S, LINUX_SLL2): one record per packet
// with the namespace, interface, direction, VLAN tag, addresses, TCP flags and sequence numbers.
export interface Packet {
  object: string; // lab object whose namespace captured it
  ts: number; // epoch seconds
  ifname: string;
  dir: 'In' | 'Out';
  /** The frame was addressed to another MAC (LINUX_SLL2 "P", PACKET_OTHERHOST), recorded as In:
   *  a VLAN parent receives its children's frames that way (a trunk ENI receiving a member's). */
  otherHost?: boolean;
  vlan?: number;
  ttl?: number;
  ipId?: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** The transport when it is not TCP: UDP, or SCTP. */
  proto?: 'udp' | 'sctp';
  flags: string; // tcpdump's flag string: S, S., ., P., F., R ...; "UDP"; SCTP's first chunk (INIT, INIT ACK, DATA …)
  seq?: number;
  ack?: number;
  /** Whether the TCP checksum verifies (undefined when it could not be checked). */
  cksumOk?: boolean;
  /** The TCP checksum field as captured. */
  cksum?: number;
  /** IPv4 total length and header length: the TCP length of the pseudo-header is their difference. */
  ipLen?: number;
  ipHeaderLen?: number;
  /** A one-line description of the packet (tcpdump's text, or the decoder's summary). */
  raw: string;
}

const HEAD = /^(\d+\.\d+)\s+(\S+)\s+(In|Out|B|M|P)\s+(.*)$/;
const TCP = /^\s*(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\](.*)$/;
// UDP and SCTP: the same address line, then whatever tcpdump decodes (a DNS query on port 53,
// "UDP, length N", SCTP's chunks "[INIT] [init tag: N] …"); the IP header says the protocol.
const OTHER = /^\s*(\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): (.*)$/;

/** A UDP or SCTP line (after the IP header `h`) as a Packet's transport fields, or undefined. */
function otherTransport(h: string, line: string): Pick<Packet, 'proto' | 'flags' | 'seq' | 'src' | 'sport' | 'dst' | 'dport'> | undefined {
  const proto = /proto (UDP|SCTP) \((?:17|132)\)/.exec(h)?.[1];
  const m = proto && OTHER.exec(line);
  if (!m) return undefined;
  const chunk = /\[(INIT ACK|INIT|DATA|SACK|ABORT|COOKIE ECHO|COOKIE ACK|SHUTDOWN(?: ACK| COMPLETE)?|HB REQ|HB ACK)\]/.exec(m[5]!)?.[1];
  const initTag = chunk === 'INIT' ? /\[init tag: (\d+)\]/.exec(m[5]!)?.[1] : undefined;
  return {
    proto: proto === 'UDP' ? 'udp' : 'sctp', flags: proto === 'UDP' ? 'UDP' : chunk ?? 'sctp',
    src: m[1]!, sport: Number(m[2]), dst: m[3]!, dport: Number(m[4]), seq: initTag ? Number(initTag) : undefined,
  };
}

export function parseTcpdump(text: string, object: string): Packet[] {
  const out: Packet[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const h = HEAD.exec(lines[i]!);
    if (!h) continue;
    // -v prints the IP header on the first line and the TCP header on an indented second one.
    let body = h[4]!;
    let tcp = TCP.exec(body.replace(/^.*?\)\s*/, ''));
    let other: ReturnType<typeof otherTransport>;
    if (!tcp && i + 1 < lines.length && /^\s/.test(lines[i + 1]!)) {
      body += ' ' + lines[i + 1]!.trim();
      tcp = TCP.exec(lines[i + 1]!);
      if (!tcp) other = otherTransport(h[4]!, lines[i + 1]!);
      i++;
    }
    if (other && (h[3] === 'In' || h[3] === 'Out' || h[3] === 'P')) {
      const ttl = /ttl (\d+)/.exec(h[4]!);
      const id = /\bid (\d+)/.exec(h[4]!);
      const len = /proto (?:UDP|SCTP) \((?:17|132)\), length (\d+)\)/.exec(h[4]!);
      const vlan = /vlan (\d+)/.exec(h[4]!);
      out.push({
        object, ts: Number(h[1]), ifname: h[2]!, dir: h[3] === 'Out' ? 'Out' : 'In', otherHost: h[3] === 'P' ? true : undefined,
        vlan: vlan ? Number(vlan[1]) : undefined, ttl: ttl ? Number(ttl[1]) : undefined, ipId: id ? Number(id[1]) : undefined,
        ...other, ipLen: len ? Number(len[1]) : undefined, ipHeaderLen: len ? 20 : undefined, raw: body,
      });
      continue;
    }
    if (!tcp || (h[3] !== 'In' && h[3] !== 'Out' && h[3] !== 'P')) continue;
    const rest = tcp[6]!;
    const vlan = /vlan (\d+)/.exec(h[4]!);
    const ttl = /ttl (\d+)/.exec(h[4]!);
    const id = /\bid (\d+)/.exec(h[4]!);
    const seq = /\bseq (\d+)/.exec(rest);
    const ack = /\back (\d+)/.exec(rest);
    const ck = /cksum 0x([0-9a-f]+) \((correct|incorrect[^)]*)\)/.exec(rest);
    // The IP total length; with IP options tcpdump prints "options (…)" before it, so no match.
    const len = /proto TCP \(6\), length (\d+)\)/.exec(h[4]!);
    out.push({
      object, ts: Number(h[1]), ifname: h[2]!, dir: h[3] === 'Out' ? 'Out' : 'In', otherHost: h[3] === 'P' ? true : undefined,
      vlan: vlan ? Number(vlan[1]) : undefined, ttl: ttl ? Number(ttl[1]) : undefined, ipId: id ? Number(id[1]) : undefined,
      src: tcp[1]!, sport: Number(tcp[2]), dst: tcp[3]!, dport: Number(tcp[4]), flags: tcp[5]!,
      seq: seq ? Number(seq[1]) : undefined, ack: ack ? Number(ack[1]) : undefined,
      cksumOk: ck ? ck[2] === 'correct' : undefined, cksum: ck ? parseInt(ck[1]!, 16) : undefined,
      ipLen: len ? Number(len[1]) : undefined, ipHeaderLen: len ? 20 : undefined,
      raw: body,
    });
  }
  return out;
}

export const isSyn = (p: Packet) => p.flags === 'S' && !p.proto;
export const isSynAck = (p: Packet) => p.flags === 'S.' && !p.proto;

export function describePacket(p: Packet): string {
  return `${p.object}:${p.ifname} ${p.dir}${p.vlan !== undefined ? ` vlan ${p.vlan}` : ''} ${p.src}:${p.sport} > ${p.dst}:${p.dport} [${p.flags}]`;
}
