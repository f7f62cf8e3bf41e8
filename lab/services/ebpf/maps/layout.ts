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
 *
 * This module: the map layouts, names, sizes, flag bits and scalar encoders; codec.ts the entries,
 * bpftool.ts the argv and dump parsing, table.ts table ↔ entries, print.ts the `lb list` printer.
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

export function fail(msg: string): never {
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

export function checkInt(what: string, v: number, min: number, max: number): void {
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

export function protoFromNumber(n: number): L4Proto {
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
