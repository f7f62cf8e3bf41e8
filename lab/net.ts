// Small IPv4 helpers (pure). Addresses are validated strings; math is on 32-bit unsigned ints.

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; len: number; mask: number } {
  const [ip, l] = cidr.split('/');
  const len = Number(l);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (ipToInt(ip!) & mask) >>> 0, len, mask };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  return ((ipToInt(ip) & c.mask) >>> 0) === c.base;
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const mask = x.len < y.len ? x.mask : y.mask;
  return ((x.base & mask) >>> 0) === ((y.base & mask) >>> 0);
}

export function prefixLen(cidr: string): number {
  return parseCidr(cidr).len;
}

/** The Alibaba Cloud convention: a vSwitch's gateway is the .253 of its block. */
export function defaultGateway(cidr: string): string {
  const c = parseCidr(cidr);
  const size = 2 ** (32 - c.len);
  return intToIp(c.base + Math.max(1, size - 3));
}

export function isIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

/** `ip` unchanged when it is a dotted-quad IPv4 address (no leading zeros), else an Error. */
export function assertIpv4(ip: string): string {
  if (!isIpv4(ip)) throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return ip;
}

/** `cidr` unchanged when it is an IPv4 CIDR without host bits set, else an Error. */
export function assertCidr(cidr: string): string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
  if (Number(m[2]) > 32) throw new Error(`prefix length out of range: ${cidr}`);
  assertIpv4(m[1]!);
  if (parseCidr(cidr).base !== ipToInt(m[1]!)) throw new Error(`CIDR has host bits set: ${cidr}`);
  return cidr;
}

/** cidrContains for untrusted text: both are validated first (assertCidr, assertIpv4). */
export function ipInCidr(ip: string, cidr: string): boolean {
  return cidrContains(assertCidr(cidr), assertIpv4(ip));
}
