// bpftool argument vectors for the lb4_* maps, and `bpftool -j map dump` output parsed back into entries.
import { decodeBackend, decodeCt, decodeRevNat, decodeServiceKey, decodeServiceValue } from './codec.ts';
import type { BackendEntry, CtEntry, LbMapsDump, RevNatEntry, ServiceEntry } from './codec.ts';
import { fail, type LbMapPaths } from './layout.ts';

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
