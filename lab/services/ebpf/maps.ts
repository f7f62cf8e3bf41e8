/**
 * Control plane of the tc eBPF service load balancer (bpf/lb4.c): pure functions
 * that turn a service table into bpftool map-update argument vectors, parse
 * `bpftool -j map dump` output back, and print the table like `cilium bpf lb list`.
 *
 * Map layouts (bpf/lb4.h, after Cilium v1.14 bpf/lib/common.h). "BE" = network
 * byte order, "LE" = host order (little-endian on x86_64 and UML):
 *
 *   lb4_services_v2  key   12 B { address BE32, dport BE16, backend_slot LE16, proto u8, scope u8, pad[2] }
 *                    value 12 B { backend_id LE32, count LE16, rev_nat_index LE16, flags u8, flags2 u8, pad[2] }
 *   lb4_backends     key    4 B   backend_id LE32
 *                    value 12 B { address BE32, port BE16, proto u8, flags u8, cluster_id u8, pad[3] }
 *   lb4_reverse_nat  key    2 B   rev_nat_index LE16
 *                    value  6 B { address BE32, port BE16 } (packed)
 *   lb4_ct (LRU)     key   16 B { daddr BE32, saddr BE32, dport BE16, sport BE16, nexthdr u8, flags u8, pad[2] }
 *                    value 24 B { packets LE64, last_seen_ns LE64, backend_id LE32, rev_nat_index LE16, pad LE16 }
 *
 * Slot 0 of a service is its frontend: count = number of backend slots,
 * rev_nat_index = service id, flags = service type bits. Slots 1..count hold a
 * backend_id each. The datapath trusts count, so writes go backends → reverse
 * NAT → slots 1..n → slot 0 (see encodeServiceTable).
 *
 * bpftool's BTF "formatted" view shows __be fields as host-order integers
 * (port 80 → 20480): this module only ever decodes the raw "key"/"value" bytes.
 */

export type L4Proto = 'TCP' | 'UDP' | 'ANY';
export type ServiceType =
  | 'ClusterIP'
  | 'NodePort'
  | 'ExternalIPs'
  | 'LoadBalancer'
  | 'HostPort'
  | 'LocalRedirect';

export interface BackendAddr {
  ip: string;
  port: number;
}

export interface LbService {
  vip: string;
  port: number;
  /** 'TCP' | 'UDP' (written into the key, the datapath matches it exactly) or
   * 'ANY' (key proto 0, as Cilium v1.14 writes it: matches TCP and UDP). */
  proto: L4Proto;
  /** Service id, key of lb4_reverse_nat, 1..65535. */
  revNatId: number;
  backends: BackendAddr[];
  /** Default 'ClusterIP'. */
  type?: ServiceType;
  /** SVC_FLAG_ROUTABLE; default: true for every type but ClusterIP. */
  routable?: boolean;
}

export type ServiceTable = LbService[];

export interface LbMapPaths {
  services: string;
  backends: string;
  revNat: string;
  ct: string;
}

/** Map names as pinned by `bpftool prog loadall … pinmaps DIR` (≤ 15 chars). */
export const LB_MAP_NAMES = {
  services: 'lb4_services_v2',
  backends: 'lb4_backends',
  revNat: 'lb4_reverse_nat',
  ct: 'lb4_ct',
} as const;

export const MAP_SIZES = {
  serviceKey: 12,
  serviceValue: 12,
  backendKey: 4,
  backendValue: 12,
  revNatKey: 2,
  revNatValue: 6,
  ctKey: 16,
  ctValue: 24,
} as const;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const CT_EGRESS = 0;
export const CT_SERVICE = 4;

/** lb4_service.flags / flags2 bits (Cilium SVC_FLAG_*). */
export const SVC_FLAG = {
  externalIPs: 1 << 0,
  nodePort: 1 << 1,
  extLocalScope: 1 << 2,
  hostPort: 1 << 3,
  sessionAffinity: 1 << 4,
  loadBalancer: 1 << 5,
  routable: 1 << 6,
  sourceRange: 1 << 7,
} as const;
export const SVC_FLAG2 = {
  localRedirect: 1 << 0,
  nat46x64: 1 << 1,
  l7LoadBalancer: 1 << 2,
  loopback: 1 << 3,
  intLocalScope: 1 << 4,
  twoScopes: 1 << 5,
} as const;

export function lbMapPaths(mapsDir: string): LbMapPaths {
  const d = mapsDir.replace(/\/+$/, '');
  return {
    services: `${d}/${LB_MAP_NAMES.services}`,
    backends: `${d}/${LB_MAP_NAMES.backends}`,
    revNat: `${d}/${LB_MAP_NAMES.revNat}`,
    ct: `${d}/${LB_MAP_NAMES.ct}`,
  };
}

// ---------------------------------------------------------------------------
// Scalars

function fail(msg: string): never {
  throw new Error(`ebpf maps: ${msg}`);
}

export function ipv4ToBytes(ip: string): Buffer {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) fail(`not an IPv4 address: ${JSON.stringify(ip)}`);
  const b = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const s = m[i + 1] as string;
    const n = Number(s);
    if (n > 255 || (s.length > 1 && s.startsWith('0'))) fail(`not an IPv4 address: ${JSON.stringify(ip)}`);
    b[i] = n;
  }
  return b;
}

export function bytesToIpv4(b: Buffer, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

function ipv4ToNumber(ip: string): number {
  return ipv4ToBytes(ip).readUInt32BE(0);
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) fail(`${what} must be an integer in ${min}..${max}, got ${v}`);
}

export function protoNumber(p: L4Proto): number {
  switch (p) {
    case 'TCP':
      return IPPROTO_TCP;
    case 'UDP':
      return IPPROTO_UDP;
    case 'ANY':
      return 0;
    default:
      return fail(`unknown protocol ${JSON.stringify(p)}`);
  }
}

/** Name of an L4 protocol number as Cilium's u8proto prints it. */
export function protoName(n: number): string {
  switch (n) {
    case 0:
      return 'ANY';
    case 1:
      return 'ICMP';
    case IPPROTO_TCP:
      return 'TCP';
    case IPPROTO_UDP:
      return 'UDP';
    case 58:
      return 'ICMPv6';
    case 132:
      return 'SCTP';
    default:
      return String(n);
  }
}

function protoFromNumber(n: number): L4Proto {
  return n === IPPROTO_TCP ? 'TCP' : n === IPPROTO_UDP ? 'UDP' : 'ANY';
}

export function serviceFlags(type: ServiceType = 'ClusterIP', routable?: boolean): { flags: number; flags2: number } {
  let flags = 0;
  let flags2 = 0;
  switch (type) {
    case 'ClusterIP':
      break;
    case 'NodePort':
      flags |= SVC_FLAG.nodePort;
      break;
    case 'ExternalIPs':
      flags |= SVC_FLAG.externalIPs;
      break;
    case 'LoadBalancer':
      flags |= SVC_FLAG.loadBalancer;
      break;
    case 'HostPort':
      flags |= SVC_FLAG.hostPort;
      break;
    case 'LocalRedirect':
      flags2 |= SVC_FLAG2.localRedirect;
      break;
    default:
      fail(`unknown service type ${JSON.stringify(type)}`);
  }
  if (routable ?? type !== 'ClusterIP') flags |= SVC_FLAG.routable;
  return { flags, flags2 };
}

export function serviceTypeOf(flags: number, flags2: number): ServiceType {
  if (flags & SVC_FLAG.externalIPs) return 'ExternalIPs';
  if (flags & SVC_FLAG.nodePort) return 'NodePort';
  if (flags & SVC_FLAG.loadBalancer) return 'LoadBalancer';
  if (flags & SVC_FLAG.hostPort) return 'HostPort';
  if (flags2 & SVC_FLAG2.localRedirect) return 'LocalRedirect';
  return 'ClusterIP';
}

/** Cilium loadbalancer.ServiceFlags.String() (v1.14). */
export function formatServiceFlags(flags: number, flags2: number): string {
  const out: string[] = [serviceTypeOf(flags, flags2)];
  if (flags & SVC_FLAG.extLocalScope) out.push('Local');
  if (flags2 & SVC_FLAG2.intLocalScope) out.push('InternalLocal');
  if (flags2 & SVC_FLAG2.twoScopes) out.push('two-scopes');
  if (flags & SVC_FLAG.sessionAffinity) out.push('sessionAffinity');
  if (!(flags & SVC_FLAG.routable)) out.push('non-routable');
  if (flags & SVC_FLAG.sourceRange) out.push('check source-range');
  if (flags2 & SVC_FLAG2.nat46x64) out.push('46x64');
  if (flags2 & SVC_FLAG2.l7LoadBalancer) out.push('l7-load-balancer');
  if (flags2 & SVC_FLAG2.loopback) out.push('loopback');
  return out.join(', ');
}

// ---------------------------------------------------------------------------
// Raw entries (what is in the maps) and their byte encodings

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

export function encodeCtKey(k: CtKey): Buffer {
  const b = Buffer.alloc(MAP_SIZES.ctKey);
  ipv4ToBytes(k.daddr).copy(b, 0);
  ipv4ToBytes(k.saddr).copy(b, 4);
  b.writeUInt16BE(k.dport, 8);
  b.writeUInt16BE(k.sport, 10);
  b.writeUInt8(k.nexthdr, 12);
  b.writeUInt8(k.flags, 13);
  return b;
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

// ---------------------------------------------------------------------------
// bpftool argument vectors

/** `hex` followed by one two-digit token per byte, as bpftool expects. */
export function hexTokens(b: Buffer): string[] {
  return ['hex', ...Array.from(b, (x) => x.toString(16).padStart(2, '0'))];
}

export function mapUpdateArgv(path: string, key: Buffer, value: Buffer, flag?: 'any' | 'exist' | 'noexist'): string[] {
  const argv = ['bpftool', 'map', 'update', 'pinned', path, 'key', ...hexTokens(key), 'value', ...hexTokens(value)];
  if (flag) argv.push(flag);
  return argv;
}

export function mapDeleteArgv(path: string, key: Buffer): string[] {
  return ['bpftool', 'map', 'delete', 'pinned', path, 'key', ...hexTokens(key)];
}

export function mapDumpArgv(path: string): string[] {
  return ['bpftool', '-j', 'map', 'dump', 'pinned', path];
}

/** The argv vectors that dump the three LB maps (feed their stdout to parseLbMapsDump). */
export function lbDumpArgvs(paths: LbMapPaths): { services: string[]; backends: string[]; revNat: string[] } {
  return { services: mapDumpArgv(paths.services), backends: mapDumpArgv(paths.backends), revNat: mapDumpArgv(paths.revNat) };
}

/**
 * Turn argv vectors (each starting with "bpftool") into the text of a
 * `bpftool batch file FILE`, one command per line, so that a whole table is
 * written by one process. Only plain tokens are allowed (no whitespace, quotes,
 * '#' or backslashes), so nothing needs quoting.
 */
export function toBpftoolBatch(argvs: readonly (readonly string[])[]): string {
  const lines = argvs.map((argv) => {
    if (argv[0] !== 'bpftool') fail(`batch lines must be bpftool commands, got ${JSON.stringify(argv[0])}`);
    const rest = argv.slice(1);
    if (rest[0] === '-j' || rest[0] === '--json') fail('batch lines must not carry -j (pass it to `bpftool -j batch file`)');
    for (const t of rest) {
      if (t === '' || /[\s"'#\\]/.test(t)) fail(`token ${JSON.stringify(t)} cannot be written to a bpftool batch file`);
    }
    return rest.join(' ');
  });
  return lines.length ? lines.join('\n') + '\n' : '';
}

// ---------------------------------------------------------------------------
// Table → map contents

export interface EncodeOptions {
  /** First backend id to allocate (default 1). */
  firstBackendId?: number;
}

export interface EncodedTable {
  backends: BackendEntry[];
  revNat: RevNatEntry[];
  /** Backend slots first, then frontends (slot 0) – the order they must be written in. */
  services: ServiceEntry[];
}

function backendIdentity(ip: string, port: number, proto: number): string {
  return `${ip}:${port}/${proto}`;
}

/** Validate a table and lay it out as map entries (backend ids are allocated
 * in order of first appearance; equal ip:port/proto share one id). */
export function layoutServiceTable(table: ServiceTable, opts: EncodeOptions = {}): EncodedTable {
  const seenKeys = new Set<string>();
  const seenRev = new Map<number, string>();
  const ids = new Map<string, number>();
  const backends: BackendEntry[] = [];
  const revNat: RevNatEntry[] = [];
  const slots: ServiceEntry[] = [];
  const fronts: ServiceEntry[] = [];
  let next = opts.firstBackendId ?? 1;
  checkInt('firstBackendId', next, 1, 0xffffffff);

  for (const [i, s] of table.entries()) {
    const where = `service #${i} (${s.vip}:${s.port}/${s.proto})`;
    ipv4ToBytes(s.vip);
    checkInt(`${where}: port`, s.port, 1, 0xffff);
    checkInt(`${where}: revNatId`, s.revNatId, 1, 0xffff);
    const proto = protoNumber(s.proto);
    const k = `${s.vip}:${s.port}/${proto}`;
    if (seenKeys.has(k)) fail(`${where}: duplicate service address`);
    seenKeys.add(k);
    const other = seenRev.get(s.revNatId);
    if (other !== undefined) fail(`${where}: revNatId ${s.revNatId} already used by ${other}`);
    seenRev.set(s.revNatId, where);
    if (s.backends.length > 0xffff) fail(`${where}: too many backends`);
    const { flags, flags2 } = serviceFlags(s.type, s.routable);

    revNat.push({ id: s.revNatId, address: s.vip, port: s.port });
    s.backends.forEach((b, j) => {
      ipv4ToBytes(b.ip);
      checkInt(`${where}: backend #${j} port`, b.port, 1, 0xffff);
      // Backends carry the service's protocol (printed as /TCP by lb list).
      const bproto = proto;
      const ident = backendIdentity(b.ip, b.port, bproto);
      let id = ids.get(ident);
      if (id === undefined) {
        id = next++;
        if (id > 0xffffffff) fail('backend ids exhausted');
        ids.set(ident, id);
        backends.push({ id, address: b.ip, port: b.port, proto: bproto, flags: 0, clusterId: 0 });
      }
      slots.push({
        key: { address: s.vip, port: s.port, slot: j + 1, proto, scope: 0 },
        value: { backendId: id, count: 0, revNatIndex: s.revNatId, flags, flags2 },
      });
    });
    fronts.push({
      key: { address: s.vip, port: s.port, slot: 0, proto, scope: 0 },
      value: { backendId: 0, count: s.backends.length, revNatIndex: s.revNatId, flags, flags2 },
    });
  }
  return { backends, revNat, services: [...slots, ...fronts] };
}

/**
 * The bpftool argv vectors that write a service table into empty (freshly
 * loaded) maps, in a safe order: backends, reverse NAT, backend slots, and the
 * frontends (slot 0, whose count makes the service live) last. To change a
 * table that is already loaded, use syncServiceTable.
 */
export function encodeServiceTable(table: ServiceTable, paths: LbMapPaths, opts: EncodeOptions = {}): string[][] {
  return syncServiceTable(null, table, paths, opts);
}

/**
 * Argv vectors that turn the current map contents (a dump, or null for empty
 * maps) into `desired`, keeping the datapath consistent at every step: new and
 * changed backends, reverse NAT and slots are written before the frontend's
 * count is raised; a count is lowered before slots above it disappear; backends
 * are deleted only after no slot refers to them. Existing backend ids are
 * reused for the same ip:port/proto.
 */
export function syncServiceTable(
  current: LbMapsDump | null,
  desired: ServiceTable,
  paths: LbMapPaths,
  opts: EncodeOptions = {},
): string[][] {
  const cur: LbMapsDump = current ?? { services: [], backends: [], revNat: [] };
  // Allocate ids: keep the ids of existing backends, new ones get the lowest free id.
  const existing = new Map<string, number>();
  const usedIds = new Set<number>();
  for (const b of cur.backends) {
    existing.set(backendIdentity(b.address, b.port, b.proto), b.id);
    usedIds.add(b.id);
  }
  const raw = layoutServiceTable(desired, opts);
  let next = opts.firstBackendId ?? 1;
  const remap = new Map<number, number>();
  for (const b of raw.backends) {
    const keep = existing.get(backendIdentity(b.address, b.port, b.proto));
    if (keep !== undefined) {
      remap.set(b.id, keep);
      continue;
    }
    while (usedIds.has(next)) next++;
    remap.set(b.id, next);
    usedIds.add(next);
    next++;
  }
  const want: EncodedTable = {
    backends: raw.backends.map((b) => ({ ...b, id: remap.get(b.id) ?? b.id })),
    revNat: raw.revNat,
    services: raw.services.map((e) =>
      e.key.slot === 0 ? e : { key: e.key, value: { ...e.value, backendId: remap.get(e.value.backendId) ?? e.value.backendId } },
    ),
  };

  const argv: string[][] = [];
  const svcKeyStr = (k: ServiceKey) => encodeServiceKey(k).toString('hex');

  const curBackends = new Map(cur.backends.map((b) => [b.id, encodeBackendValue(b).toString('hex')]));
  for (const b of want.backends) {
    const v = encodeBackendValue(b);
    if (curBackends.get(b.id) !== v.toString('hex')) argv.push(mapUpdateArgv(paths.backends, encodeBackendKey(b.id), v));
  }
  const curRev = new Map(cur.revNat.map((r) => [r.id, encodeRevNatValue(r.address, r.port).toString('hex')]));
  for (const r of want.revNat) {
    const v = encodeRevNatValue(r.address, r.port);
    if (curRev.get(r.id) !== v.toString('hex')) argv.push(mapUpdateArgv(paths.revNat, encodeRevNatKey(r.id), v));
  }
  const curSvc = new Map(cur.services.map((e) => [svcKeyStr(e.key), encodeServiceValue(e.value).toString('hex')]));
  const wantSvc = new Set(want.services.map((e) => svcKeyStr(e.key)));
  // Slots, then frontends (layoutServiceTable already orders them so).
  for (const e of want.services) {
    const v = encodeServiceValue(e.value);
    if (curSvc.get(svcKeyStr(e.key)) !== v.toString('hex')) argv.push(mapUpdateArgv(paths.services, encodeServiceKey(e.key), v));
  }
  // Stale service entries: frontends first (the service disappears at once),
  // then slots (frontends that stay have already had their count lowered).
  const stale = cur.services.filter((e) => !wantSvc.has(svcKeyStr(e.key)));
  stale.sort((a, b) => a.key.slot - b.key.slot);
  for (const e of stale) argv.push(mapDeleteArgv(paths.services, encodeServiceKey(e.key)));
  const wantRev = new Set(want.revNat.map((r) => r.id));
  for (const r of cur.revNat) if (!wantRev.has(r.id)) argv.push(mapDeleteArgv(paths.revNat, encodeRevNatKey(r.id)));
  const wantBe = new Set(want.backends.map((b) => b.id));
  for (const b of cur.backends) if (!wantBe.has(b.id)) argv.push(mapDeleteArgv(paths.backends, encodeBackendKey(b.id)));
  return argv;
}

// ---------------------------------------------------------------------------
// bpftool -j map dump → entries

export interface RawMapEntry {
  key: Buffer;
  value: Buffer;
}

function parseByteArray(what: string, a: unknown): Buffer {
  if (!Array.isArray(a)) fail(`${what}: expected an array of bytes`);
  return Buffer.from(
    a.map((t: unknown) => {
      const n = typeof t === 'number' ? t : typeof t === 'string' ? Number.parseInt(t, t.startsWith('0x') ? 16 : 10) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 255) fail(`${what}: bad byte ${JSON.stringify(t)}`);
      return n;
    }),
  );
}

/**
 * Parse the stdout of `bpftool -j map dump pinned PATH` (a JSON array of
 * {key: ["0x0a", …], value: [...], formatted?: …}). The raw byte arrays are
 * decoded; "formatted" (BTF pretty-print, wrong for __be fields) is ignored.
 * Also accepts the already-parsed JSON value.
 */
export function parseBpftoolDump(json: string | unknown): RawMapEntry[] {
  const data: unknown = typeof json === 'string' ? (json.trim() === '' ? [] : JSON.parse(json)) : json;
  if (!Array.isArray(data)) fail('bpftool dump: expected a JSON array');
  return data.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) fail(`bpftool dump: entry ${i} is not an object`);
    const o = e as Record<string, unknown>;
    if (o['value'] === undefined && o['values'] !== undefined) fail('bpftool dump: per-CPU maps are not supported');
    return { key: parseByteArray(`entry ${i} key`, o['key']), value: parseByteArray(`entry ${i} value`, o['value']) };
  });
}

export function decodeServicesDump(json: string | unknown): ServiceEntry[] {
  return parseBpftoolDump(json).map((e) => ({ key: decodeServiceKey(e.key), value: decodeServiceValue(e.value) }));
}
export function decodeBackendsDump(json: string | unknown): BackendEntry[] {
  return parseBpftoolDump(json).map((e) => decodeBackend(e.key, e.value));
}
export function decodeRevNatDump(json: string | unknown): RevNatEntry[] {
  return parseBpftoolDump(json).map((e) => decodeRevNat(e.key, e.value));
}
export function decodeCtDump(json: string | unknown): CtEntry[] {
  return parseBpftoolDump(json).map((e) => decodeCt(e.key, e.value));
}

/** Decode the stdout of the three dumps of lbDumpArgvs. */
export function parseLbMapsDump(out: { services: string | unknown; backends: string | unknown; revNat: string | unknown }): LbMapsDump {
  return {
    services: decodeServicesDump(out.services),
    backends: decodeBackendsDump(out.backends),
    revNat: decodeRevNatDump(out.revNat),
  };
}

function cmpAddrPort(a: { address: string; port: number }, b: { address: string; port: number }): number {
  return ipv4ToNumber(a.address) - ipv4ToNumber(b.address) || a.port - b.port;
}

/**
 * Rebuild the service table from map contents. Frontends (slot 0) define the
 * services; slots 1..count are followed to their backends. Problems (a missing
 * slot or backend, a missing reverse-NAT entry) are reported, not thrown.
 */
export function dumpToTable(dump: LbMapsDump): { table: ServiceTable; problems: string[] } {
  const problems: string[] = [];
  const backends = new Map(dump.backends.map((b) => [b.id, b]));
  const revNat = new Map(dump.revNat.map((r) => [r.id, r]));
  const slotOf = new Map<string, ServiceEntry>();
  const fk = (k: ServiceKey, slot: number) => `${k.address}:${k.port}/${k.proto}/${k.scope}#${slot}`;
  for (const e of dump.services) slotOf.set(fk(e.key, e.key.slot), e);
  const fronts = dump.services
    .filter((e) => e.key.slot === 0)
    .sort((a, b) => cmpAddrPort(a.key, b.key) || a.key.proto - b.key.proto || a.key.scope - b.key.scope);
  const table: ServiceTable = fronts.map((f) => {
    const name = `${f.key.address}:${f.key.port}/${protoName(f.key.proto)}`;
    const bs: BackendAddr[] = [];
    for (let slot = 1; slot <= f.value.count; slot++) {
      const s = slotOf.get(fk(f.key, slot));
      if (!s) {
        problems.push(`${name}: slot ${slot} missing`);
        continue;
      }
      const be = backends.get(s.value.backendId);
      if (!be) {
        problems.push(`${name}: slot ${slot}: backend ${s.value.backendId} not found`);
        continue;
      }
      bs.push({ ip: be.address, port: be.port });
    }
    const rn = revNat.get(f.value.revNatIndex);
    if (!rn) problems.push(`${name}: reverse NAT ${f.value.revNatIndex} not found`);
    else if (rn.address !== f.key.address || rn.port !== f.key.port)
      problems.push(`${name}: reverse NAT ${f.value.revNatIndex} is ${rn.address}:${rn.port}`);
    const type = serviceTypeOf(f.value.flags, f.value.flags2);
    const svc: LbService = {
      vip: f.key.address,
      port: f.key.port,
      proto: protoFromNumber(f.key.proto),
      revNatId: f.value.revNatIndex,
      backends: bs,
      type,
    };
    const routable = (f.value.flags & SVC_FLAG.routable) !== 0;
    if (routable !== (type !== 'ClusterIP')) svc.routable = routable;
    return svc;
  });
  return { table, problems };
}

// ---------------------------------------------------------------------------
// `cilium bpf lb list`

/**
 * Go's text/tabwriter as `cilium` configures it (minwidth 5, tabwidth 0,
 * padding 3, pad ' ', no flags) for rows of tab-terminated cells: every cell is
 * padded to its column's width, trailing spaces included.
 */
export function goTabwriter(rows: readonly (readonly string[])[], minwidth = 5, padding = 3): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? minwidth, c.length + padding)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('') + '\n').join('');
}

export type LbListMode = 'services' | 'revnat' | 'backends';

export interface LbListOptions {
  /** 'services' (default, `cilium bpf lb list`), 'revnat' (`--revnat`), 'backends' (`--backends`). */
  mode?: LbListMode;
  /** Strip the trailing spaces Go's tabwriter leaves on every line (default false: byte-exact). */
  trimTrailingSpace?: boolean;
}

export const LB_LIST_TITLES = {
  serviceAddress: 'SERVICE ADDRESS',
  backendAddress: 'BACKEND ADDRESS (REVNAT_ID) (SLOT)',
  id: 'ID',
} as const;

/** The first-column string of a service key (Cilium v1.14 Service4Key.String()). */
export function serviceKeyString(k: ServiceKey): string {
  return `${k.address}:${k.port}${k.scope === 1 ? '/i' : ''}`;
}

/**
 * Print map contents like `cilium bpf lb list` (cilium-dbg/cmd/bpf_lb_list.go,
 * TablePrinter). For each service-map entry of a frontend address: slot 0 is
 * `0.0.0.0:0 (<revnat>) (0) [<flags>] `, slot n is
 * `<backend ip>:<port>/<PROTO> (<revnat>) (<n>)` or `backend <id> not found`.
 * Cilium iterates a Go map (random order); here frontends are sorted by
 * address and port, and each one's entries by slot.
 */
export function formatLbList(dump: LbMapsDump, opts: LbListOptions = {}): string {
  const mode = opts.mode ?? 'services';
  const rows: string[][] = [];
  if (mode === 'services') {
    rows.push([LB_LIST_TITLES.serviceAddress, LB_LIST_TITLES.backendAddress]);
    const backends = new Map(dump.backends.map((b) => [b.id, b]));
    const groups = new Map<string, { key: ServiceKey; entries: ServiceEntry[] }>();
    for (const e of dump.services) {
      const s = serviceKeyString(e.key);
      const g = groups.get(s) ?? { key: e.key, entries: [] };
      g.entries.push(e);
      groups.set(s, g);
    }
    const ordered = [...groups.entries()].sort(
      ([, a], [, b]) => cmpAddrPort(a.key, b.key) || a.key.scope - b.key.scope,
    );
    for (const [name, g] of ordered) {
      g.entries.sort((a, b) => a.key.slot - b.key.slot || a.key.proto - b.key.proto);
      g.entries.forEach((e, i) => {
        let cell: string;
        if (e.key.slot === 0) {
          cell = `0.0.0.0:0 (${e.value.revNatIndex}) (0) [${formatServiceFlags(e.value.flags, e.value.flags2)}] `;
        } else {
          const be = backends.get(e.value.backendId);
          cell = be
            ? `${be.address}:${be.port}/${protoName(be.proto)} (${e.value.revNatIndex}) (${e.key.slot})`
            : `backend ${e.value.backendId} not found`;
        }
        rows.push([i === 0 ? name : '', cell]);
      });
    }
  } else if (mode === 'revnat') {
    rows.push([LB_LIST_TITLES.id, LB_LIST_TITLES.backendAddress]);
    for (const r of [...dump.revNat].sort((a, b) => a.id - b.id)) rows.push([String(r.id), `${r.address}:${r.port}`]);
  } else if (mode === 'backends') {
    rows.push([LB_LIST_TITLES.id, LB_LIST_TITLES.backendAddress]);
    // Cilium's Backend4ValueV3.String() prints no port: "TCP://10.0.0.20".
    for (const b of [...dump.backends].sort((a, b) => a.id - b.id)) rows.push([String(b.id), `${protoName(b.proto)}://${b.address}`]);
  } else {
    fail(`unknown lb list mode ${JSON.stringify(mode)}`);
  }
  const text = goTabwriter(rows);
  return opts.trimTrailingSpace ? text.replace(/ +$/gm, '') : text;
}

/**
 * One line per lb4_ct entry, in the spirit of `cilium bpf ct list global`:
 *   TCP SVC 10.0.0.10:40000 -> 10.96.0.10:80 backend=1 RevNAT=1 packets=3
 *   TCP OUT 10.0.0.10:40000 -> 10.0.0.20:8080 backend=1 RevNAT=1 packets=3
 * SVC = pre-DNAT (affinity) entry, OUT = post-DNAT entry used by the reverse NAT.
 */
export function formatCtList(entries: readonly CtEntry[]): string {
  const sorted = [...entries].sort(
    (a, b) =>
      ipv4ToNumber(a.key.saddr) - ipv4ToNumber(b.key.saddr) ||
      a.key.sport - b.key.sport ||
      b.key.flags - a.key.flags ||
      ipv4ToNumber(a.key.daddr) - ipv4ToNumber(b.key.daddr) ||
      a.key.dport - b.key.dport,
  );
  return sorted
    .map((e) => {
      const dir = e.key.flags === CT_SERVICE ? 'SVC' : e.key.flags === CT_EGRESS ? 'OUT' : `F${e.key.flags}`;
      return (
        `${protoName(e.key.nexthdr)} ${dir} ${e.key.saddr}:${e.key.sport} -> ${e.key.daddr}:${e.key.dport} ` +
        `backend=${e.value.backendId} RevNAT=${e.value.revNatIndex} packets=${e.value.packets}\n`
      );
    })
    .join('');
}
