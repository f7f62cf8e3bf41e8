// Leaf helpers of the kube-proxy builders: the mark formatting and the address tests that the
// model (model.ts) and the rule writers (writers.ts) both need; kept apart so that neither imports
// the other. Source: kubernetes pkg/proxy/iptables/proxier.go (NewProxier: masqueradeMark),
// https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/iptables/proxier.go
import { cidrContains, isIpv4 } from '../../net.ts';

/** Go `fmt.Sprintf("%#08x", v)`: 8 zero-padded hex digits *after* the 0x prefix → "0x00004000". */
export function formatMark(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

/** kube-proxy's masquerade mark for --iptables-masquerade-bit (default 14 → "0x00004000"). */
export function masqueradeMarkForBit(bit = 14): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new RangeError(`mark bit out of range: ${bit}`);
  return formatMark(2 ** bit);
}

/** `cidr` (kube-proxy trims it first) contains the IPv4 address `ip`; false for anything malformed. */
export function cidrHolds(cidr: string, ip: string): boolean {
  const [base, len] = cidr.trim().split('/');
  if (!base || !isIpv4(base) || !isIpv4(ip)) return false;
  const n = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(n) || n < 0 || n > 32) return false;
  return cidrContains(`${base}/${n}`, ip);
}

export function isLoopback(ip: string): boolean {
  return cidrHolds('127.0.0.0/8', ip);
}
