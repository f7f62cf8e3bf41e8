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
