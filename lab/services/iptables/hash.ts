/**
 * kube-proxy (iptables mode) chain-name hashing, byte-for-byte as in kubernetes
 * `pkg/proxy/iptables/proxier.go`:
 *
 *   func portProtoHash(servicePortName string, protocol string) string {
 *       hash := sha256.Sum256([]byte(servicePortName + protocol))
 *       encoded := base32.StdEncoding.EncodeToString(hash[:])
 *       return encoded[:16]
 *   }
 *   servicePortEndpointChainName(spn, proto, endpoint) = "KUBE-SEP-" + base32(sha256(spn + proto + endpoint))[:16]
 *
 * `spn` is `ServicePortName.String()` = "<namespace>/<name>" plus ":<portName>" only when the port is
 * named; `proto` is the lower-cased protocol ("tcp", "udp", "sctp"); `endpoint` is
 * `net.JoinHostPort(ip, port)` ("10.0.0.1:80", "[fd00::1]:80").
 *
 * Pure: only node:crypto.
 */
import { createHash } from 'node:crypto';

/** RFC 4648 "base32" standard alphabet (Go's base32.StdEncoding). */
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (standard alphabet, '=' padding), identical to Go's base32.StdEncoding.EncodeToString. */
export function base32StdEncode(data: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 0x1f];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 0x1f];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/** Chain-name prefixes used by the current (≥1.24) proxier, plus the legacy KUBE-XLB- (≤1.23). */
export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-' | 'KUBE-XLB-';

export const SERVICE_CHAIN_PREFIXES: readonly ServiceChainPrefix[] = [
  'KUBE-SVC-',
  'KUBE-SVL-',
  'KUBE-EXT-',
  'KUBE-FW-',
  'KUBE-XLB-',
];

/** Lower-case protocol as kube-proxy passes it to the hash (`strings.ToLower(string(protocol))`). */
export function protoLower(protocol: string): string {
  return protocol.toLowerCase();
}

/**
 * `ServicePortName.String()`: "ns/name" or "ns/name:port". Before 1.19 it was
 * `fmt.Sprintf("%s:%s", ns/name, port)`, the ':' written for an unnamed port too (`alwaysColon`;
 * https://github.com/kubernetes/kubernetes/pull/90031, see release.ts).
 */
export function servicePortName(namespace: string, name: string, portName?: string, alwaysColon = false): string {
  return portName || alwaysColon ? `${namespace}/${name}:${portName ?? ''}` : `${namespace}/${name}`;
}

/** `net.JoinHostPort(ip, strconv.Itoa(port))`. */
export function joinHostPort(ip: string, port: number | string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function hash16(text: string): string {
  const digest = createHash('sha256').update(text, 'utf8').digest();
  return base32StdEncode(digest).slice(0, 16);
}

/** kube-proxy `portProtoHash(servicePortName, protocol)`: 16 base32 characters. */
export function portProtoHash(spn: string, proto: string): string {
  return hash16(spn + proto);
}

/** KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-FW-/KUBE-XLB- + portProtoHash(spn, proto). */
export function servicePortChainName(prefix: ServiceChainPrefix, spn: string, proto: string): string {
  return prefix + portProtoHash(spn, proto);
}

/**
 * kube-proxy `servicePortEndpointChainName(spn, proto, endpoint)`: "KUBE-SEP-" + 16 base32 chars.
 * `endpoint` is "ip:port" (use {@link joinHostPort}).
 */
export function endpointChainName(spn: string, proto: string, endpoint: string): string {
  return 'KUBE-SEP-' + hash16(spn + proto + endpoint);
}

/** True for the per-service chain names kube-proxy owns (and deletes when stale). */
export function isServiceChainName(chain: string): boolean {
  return chain.startsWith('KUBE-SEP-') || SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}
