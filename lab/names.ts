// Names the datapaths give to kernel objects. Pure functions, unit-tested against the
// vectors in the CNI plugins' own tests.
import { createHash } from 'node:crypto';

export const IFNAMSIZ = 16; // including the NUL: names are at most 15 bytes

/**
 * Host-side veth name of a pod, as Terway's VethNameForPod and Calico's VethNameForWorkload
 * compute it: prefix + first 11 hex chars of sha1("<namespace>.<pod>").
 * (Terway appends the CNI ifName, but treats "eth0" as "" — pods here only have eth0.)
 */
export function vethNameForPod(podName: string, namespace: string, prefix = 'cali'): string {
  const h = createHash('sha1').update(`${namespace}.${podName}`).digest('hex');
  return `${prefix}${h.slice(0, 11)}`;
}

/** Terway: per-ENI policy routing table = 1000 + the ENI's ifindex (GetRouteTableID). */
export function eniRouteTable(ifindex: number): number {
  return 1000 + ifindex;
}

/** Terway's rule priorities (plugin/datapath/consts_linux.go). */
export const TO_CONTAINER_PRIORITY = 512;
export const FROM_CONTAINER_PRIORITY = 2048;
/** The link-local gateway every veth-wired pod routes through. */
export const LINK_GATEWAY = '169.254.1.1';
/** MAC of every vSwitch port: Terway's default VPC gateway MAC. */
export const VPC_GATEWAY_MAC = 'ee:ff:ff:ff:ff:ff';
/** Calico sets the host veth's MAC to this. */
export const CALICO_HOST_MAC = 'ee:ee:ee:ee:ee:ee';

/** A deterministic, locally administered-looking MAC in Alibaba's 00:16:3e OUI, from a seed. */
export function macFor(seed: string, oui = '00:16:3e'): string {
  const h = createHash('sha1').update(seed).digest();
  return `${oui}:${[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** A unicast, locally administered MAC for host-side virtual interfaces. */
export function localMacFor(seed: string): string {
  const h = createHash('sha1').update(seed).digest();
  const b = [(h[0]! & 0xfc) | 0x02, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** An interface name ≤ 15 bytes: `wanted` when it fits, else prefix + a short hash of it. */
export function fitIfname(wanted: string, prefix = 'p'): string {
  if (Buffer.byteLength(wanted) <= IFNAMSIZ - 1) return wanted;
  return `${prefix}${createHash('sha1').update(wanted).digest('hex').slice(0, IFNAMSIZ - 1 - prefix.length)}`;
}

/** Lab namespaces: `dl-<labid>-<object>`; the prefix is how `down --all` finds leftovers. */
export const NS_PREFIX = 'dl-';
export function nsName(labId: string, object: string): string {
  return `${NS_PREFIX}${labId}-${object}`;
}

export function newLabId(): string {
  return createHash('sha1').update(`${process.pid}-${Date.now()}-${Math.random()}`).digest('hex').slice(0, 6);
}
