// Raw map entries (what is in the lb4_* maps) and their byte encodings; layouts in layout.ts.
import { bytesToIpv4, checkInt, fail, ipv4ToBytes, MAP_SIZES } from './layout.ts';


export interface ServiceKey {
  address: string;
  port: number;
  slot: number;
  /** IP protocol number, 0 = any. */
  proto: number;
  scope: number;
}
export interface ServiceValue {
  backendId: number;
  count: number;
  revNatIndex: number;
  flags: number;
  flags2: number;
}
export interface ServiceEntry {
  key: ServiceKey;
  value: ServiceValue;
}
export interface BackendEntry {
  id: number;
  address: string;
  port: number;
  proto: number;
  flags: number;
  clusterId: number;
}
export interface RevNatEntry {
  id: number;
  address: string;
  port: number;
}
export interface CtKey {
  daddr: string;
  saddr: string;
  dport: number;
  sport: number;
  nexthdr: number;
  flags: number;
}
export interface CtValue {
  packets: bigint;
  lastSeenNs: bigint;
  backendId: number;
  revNatIndex: number;
}
export interface CtEntry {
  key: CtKey;
  value: CtValue;
}

/** Everything `lb list` needs: the three LB maps, decoded. */
export interface LbMapsDump {
  services: ServiceEntry[];
  backends: BackendEntry[];
  revNat: RevNatEntry[];
}

export function encodeServiceKey(k: ServiceKey): Buffer {
  const b = Buffer.alloc(MAP_SIZES.serviceKey);
  ipv4ToBytes(k.address).copy(b, 0);
  checkInt('service port', k.port, 0, 0xffff);
  checkInt('backend slot', k.slot, 0, 0xffff);
  checkInt('key proto', k.proto, 0, 0xff);
  checkInt('scope', k.scope, 0, 0xff);
  b.writeUInt16BE(k.port, 4);
  b.writeUInt16LE(k.slot, 6);
  b.writeUInt8(k.proto, 8);
  b.writeUInt8(k.scope, 9);
  return b;
}

export function decodeServiceKey(b: Buffer): ServiceKey {
  expectSize('lb4_services_v2 key', b, MAP_SIZES.serviceKey);
  return {
    address: bytesToIpv4(b, 0),
    port: b.readUInt16BE(4),
    slot: b.readUInt16LE(6),
    proto: b.readUInt8(8),
    scope: b.readUInt8(9),
  };
}

export function encodeServiceValue(v: ServiceValue): Buffer {
  const b = Buffer.alloc(MAP_SIZES.serviceValue);
  checkInt('backend id', v.backendId, 0, 0xffffffff);
  checkInt('count', v.count, 0, 0xffff);
  checkInt('rev_nat_index', v.revNatIndex, 0, 0xffff);
  checkInt('flags', v.flags, 0, 0xff);
  checkInt('flags2', v.flags2, 0, 0xff);
  b.writeUInt32LE(v.backendId, 0);
  b.writeUInt16LE(v.count, 4);
  b.writeUInt16LE(v.revNatIndex, 6);
  b.writeUInt8(v.flags, 8);
  b.writeUInt8(v.flags2, 9);
  return b;
}

export function decodeServiceValue(b: Buffer): ServiceValue {
  expectSize('lb4_services_v2 value', b, MAP_SIZES.serviceValue);
  return {
    backendId: b.readUInt32LE(0),
    count: b.readUInt16LE(4),
    revNatIndex: b.readUInt16LE(6),
    flags: b.readUInt8(8),
    flags2: b.readUInt8(9),
  };
}

export function encodeBackendKey(id: number): Buffer {
  checkInt('backend id', id, 1, 0xffffffff);
  const b = Buffer.alloc(MAP_SIZES.backendKey);
  b.writeUInt32LE(id, 0);
  return b;
}

export function encodeBackendValue(e: Omit<BackendEntry, 'id'>): Buffer {
  const b = Buffer.alloc(MAP_SIZES.backendValue);
  ipv4ToBytes(e.address).copy(b, 0);
  checkInt('backend port', e.port, 0, 0xffff);
  checkInt('backend proto', e.proto, 0, 0xff);
  checkInt('backend flags', e.flags, 0, 0xff);
  checkInt('cluster id', e.clusterId, 0, 0xff);
  b.writeUInt16BE(e.port, 4);
  b.writeUInt8(e.proto, 6);
  b.writeUInt8(e.flags, 7);
  b.writeUInt8(e.clusterId, 8);
  return b;
}

export function decodeBackend(key: Buffer, value: Buffer): BackendEntry {
  expectSize('lb4_backends key', key, MAP_SIZES.backendKey);
  expectSize('lb4_backends value', value, MAP_SIZES.backendValue);
  return {
    id: key.readUInt32LE(0),
    address: bytesToIpv4(value, 0),
    port: value.readUInt16BE(4),
    proto: value.readUInt8(6),
    flags: value.readUInt8(7),
    clusterId: value.readUInt8(8),
  };
}

export function encodeRevNatKey(id: number): Buffer {
  checkInt('rev_nat_index', id, 1, 0xffff);
  const b = Buffer.alloc(MAP_SIZES.revNatKey);
  b.writeUInt16LE(id, 0);
  return b;
}

export function encodeRevNatValue(address: string, port: number): Buffer {
  const b = Buffer.alloc(MAP_SIZES.revNatValue);
  ipv4ToBytes(address).copy(b, 0);
  checkInt('reverse NAT port', port, 0, 0xffff);
  b.writeUInt16BE(port, 4);
  return b;
}

export function decodeRevNat(key: Buffer, value: Buffer): RevNatEntry {
  expectSize('lb4_reverse_nat key', key, MAP_SIZES.revNatKey);
  expectSize('lb4_reverse_nat value', value, MAP_SIZES.revNatValue);
  return { id: key.readUInt16LE(0), address: bytesToIpv4(value, 0), port: value.readUInt16BE(4) };
}

export function decodeCt(key: Buffer, value: Buffer): CtEntry {
  expectSize('lb4_ct key', key, MAP_SIZES.ctKey);
  expectSize('lb4_ct value', value, MAP_SIZES.ctValue);
  return {
    key: {
      daddr: bytesToIpv4(key, 0),
      saddr: bytesToIpv4(key, 4),
      dport: key.readUInt16BE(8),
      sport: key.readUInt16BE(10),
      nexthdr: key.readUInt8(12),
      flags: key.readUInt8(13),
    },
    value: {
      packets: value.readBigUInt64LE(0),
      lastSeenNs: value.readBigUInt64LE(8),
      backendId: value.readUInt32LE(16),
      revNatIndex: value.readUInt16LE(20),
    },
  };
}

function expectSize(what: string, b: Buffer, n: number): void {
  if (b.length !== n) fail(`${what}: expected ${n} bytes, got ${b.length} (object built from another bpf/lb4.h?)`);
}
