// A service table laid out as map entries (and the ordered writes that sync it), and map contents read back as a table.
import { ipToInt } from '../../../net.ts';
import { mapDeleteArgv, mapUpdateArgv } from './bpftool.ts';
import {
  encodeBackendKey,
  encodeBackendValue,
  encodeRevNatKey,
  encodeRevNatValue,
  encodeServiceKey,
  encodeServiceValue,
} from './codec.ts';
import type { BackendEntry, LbMapsDump, RevNatEntry, ServiceEntry, ServiceKey } from './codec.ts';
import { checkInt, fail, ipv4ToBytes, protoFromNumber, protoName, protoNumber, serviceFlags, serviceTypeOf, SVC_FLAG } from './layout.ts';
import type { BackendAddr, LbMapPaths, LbService, ServiceTable } from './layout.ts';

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

export function cmpAddrPort(a: { address: string; port: number }, b: { address: string; port: number }): number {
  return ipToInt(a.address) - ipToInt(b.address) || a.port - b.port;
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
