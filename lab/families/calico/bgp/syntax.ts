// BIRD syntax pieces shared by the node and router renderers: value checks, Calico's protocol
// naming, and the log/debug/timer blocks. Addresses are checked by lab/net.ts (the one IPv4 helper).
import { assertCidr, assertIpv4 } from '../../../net.ts';
import type { BgpPeer, BgpTimers, BirdLog, IpamBlock, IpPool } from './types.ts';

// ---------------------------------------------------------------------------------------------------
// Validation helpers

const CALICO_DEFAULT_TIMERS = {
  scanTimeSeconds: 2,
  connectDelaySeconds: 1,
  connectRetrySeconds: 3,
  errorWaitSeconds: [5, 60] as const,
};

export function assertAs(as: number): number {
  if (!Number.isInteger(as) || as < 1 || as > 4294967295) throw new Error(`invalid AS number: ${as}`);
  return as;
}

export function assertNonNegInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

export function assertPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid TCP port: ${port}`);
  return port;
}

/** A BIRD string literal. Rejects characters that could end the literal or the statement. */
export function birdString(s: string): string {
  if (/["\\\n\r]/.test(s)) throw new Error(`value not allowed in a BIRD string: ${JSON.stringify(s)}`);
  return `"${s}"`;
}

/** Turns a label into a BIRD symbol (letters, digits, underscores; must not start with a digit). */
export function birdSymbol(label: string): string {
  let s = label.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(s)) s = `p_${s}`;
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Naming (Calico's conventions)

/** `192.168.64.1` → `192_168_64_1`, plus `_port_<n>` when a port is set (Calico's `$id`). */
export function calicoPeerId(ip: string, port?: number): string {
  const id = assertIpv4(ip).split('.').join('_');
  return port === undefined ? id : `${id}_port_${assertPort(port)}`;
}

/** Protocol name Calico gives a node-specific BGPPeer: `Node_<ip with _>[_port_<n>]`. */
export function calicoNodePeerName(ip: string, port?: number): string {
  return `Node_${calicoPeerId(ip, port)}`;
}

/** Protocol name Calico gives a global BGPPeer: `Global_<ip with _>[_port_<n>]`. */
export function calicoGlobalPeerName(ip: string, port?: number): string {
  return `Global_${calicoPeerId(ip, port)}`;
}

/** Protocol name Calico gives a full-mesh peer: `Mesh_<ip with _>` (no port suffix). */
export function calicoMeshPeerName(ip: string): string {
  return `Mesh_${calicoPeerId(ip)}`;
}

/** Protocol name used in router configs: the peer's `name` as a BIRD symbol, else `Peer_<ip with _>`. */
export function routerPeerName(peer: BgpPeer): string {
  return peer.name ? birdSymbol(peer.name) : `Peer_${calicoPeerId(peer.ip, peer.port)}`;
}

// ---------------------------------------------------------------------------------------------------
// Shared rendering

export function renderLog(log: BirdLog | undefined): string[] {
  if (!log) return [];
  const classes =
    log.classes === undefined || log.classes === 'all'
      ? 'all'
      : `{ ${log.classes.map((c) => {
          if (!/^[a-z]+$/.test(c)) throw new Error(`invalid BIRD log class: ${c}`);
          return c;
        }).join(', ')} }`;
  const out: string[] = [];
  if (log.file !== undefined) out.push(`log ${birdString(log.file)} ${classes};`);
  if (log.syslog) out.push(`log syslog ${classes};`);
  if (log.stderr) out.push(`log stderr ${classes};`);
  return out;
}

export function renderDebug(debug: 'states' | 'all' | 'none' | undefined, indent: string): string[] {
  switch (debug ?? 'states') {
    case 'all':
      return [`${indent}debug all;`];
    case 'none':
      return [];
    default:
      return [`${indent}debug { states };`];
  }
}

export function timersOf(t: BgpTimers | undefined): {
  scan: number;
  delay: number;
  retry: number;
  errorWait: readonly [number, number];
} {
  const scan = assertNonNegInt(t?.scanTimeSeconds ?? CALICO_DEFAULT_TIMERS.scanTimeSeconds, 'scan time');
  if (scan < 1) throw new Error('scan time must be at least 1 second');
  const delay = assertNonNegInt(t?.connectDelaySeconds ?? CALICO_DEFAULT_TIMERS.connectDelaySeconds, 'connect delay');
  const retry = assertNonNegInt(t?.connectRetrySeconds ?? CALICO_DEFAULT_TIMERS.connectRetrySeconds, 'connect retry');
  if (retry < 1) throw new Error('connect retry time must be at least 1 second');
  const errorWait = t?.errorWaitSeconds ?? CALICO_DEFAULT_TIMERS.errorWaitSeconds;
  assertNonNegInt(errorWait[0], 'error wait min');
  assertNonNegInt(errorWait[1], 'error wait max');
  if (errorWait[0] > errorWait[1]) throw new Error('error wait min must not exceed max');
  return { scan, delay, retry, errorWait };
}

export function normPool(p: string | IpPool): IpPool {
  const pool = typeof p === 'string' ? { cidr: p } : p;
  assertCidr(pool.cidr);
  const enc: string = pool.encapsulation ?? 'none';
  if (enc !== 'none' && enc !== 'vxlan') {
    throw new Error(`pool ${pool.cidr}: encapsulation ${enc} is not supported with BIRD 2 (no krt_tunnel attribute)`);
  }
  return pool;
}

export function normBlock(b: string | IpamBlock): IpamBlock {
  const block = typeof b === 'string' ? { cidr: b } : b;
  assertCidr(block.cidr);
  return block;
}

