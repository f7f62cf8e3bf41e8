/**
 * Pure tests of the eBPF load balancer's control plane: map encodings (byte
 * order!), bpftool argv vectors, dump parsing, `cilium bpf lb list` formatting,
 * table sync ordering, and the loader's command sequence. No root needed.
 */
import test from 'ava';
import fc from 'fast-check';
import assert from 'node:assert/strict';

import {
  decodeBackendsDump,
  decodeCtDump,
  decodeServicesDump,
  dumpToTable,
  encodeBackendValue,
  encodeServiceKey,
  encodeServiceTable,
  encodeServiceValue,
  formatCtList,
  formatLbList,
  goTabwriter,
  layoutServiceTable,
  lbMapPaths,
  parseBpftoolDump,
  parseLbMapsDump,
  syncServiceTable,
  toBpftoolBatch,
} from '../../lab/services/ebpf/maps.ts';
import type { LbMapsDump, ServiceTable } from '../../lab/services/ebpf/maps.ts';
import {
  ebpfBuildArgv,
  ebpfLoadSteps,
  ebpfPinPaths,
  ebpfUnloadSteps,
  nsenterArgv,
} from '../../lab/services/ebpf/loader.ts';

const M = '/sys/fs/bpf/lab/pod-a/maps';
const paths = lbMapPaths(M);

/** Split a `bpftool map update` argv into {path, key bytes, value bytes}. */
function splitUpdate(argv: string[]): { op: string; path: string; key: string; value: string } {
  const op = argv[2] as string;
  const path = argv[4] as string;
  const ki = argv.indexOf('key');
  const vi = argv.indexOf('value');
  const key = argv.slice(ki + 2, vi < 0 ? undefined : vi).join(' ');
  const value = vi < 0 ? '' : argv.slice(vi + 2).join(' ');
  return { op, path, key, value };
}

/** Simulate `bpftool -j map dump` output for what a list of updates/deletes leaves in the maps. */
function applyToDumps(
  argvs: string[][],
  start?: Record<string, Map<string, string>>,
): { services: string; backends: string; revNat: string } {
  const maps: Record<string, Map<string, string>> = start ?? {
    [paths.services]: new Map(),
    [paths.backends]: new Map(),
    [paths.revNat]: new Map(),
  };
  for (const a of argvs) {
    const u = splitUpdate(a);
    const m = maps[u.path];
    if (!m) throw new Error(`unexpected map ${u.path}`);
    if (u.op === 'update') m.set(u.key, u.value);
    else if (u.op === 'delete') {
      if (!m.delete(u.key)) throw new Error(`delete of a missing key ${u.key}`);
    } else throw new Error(u.op);
  }
  const toJson = (m: Map<string, string>) =>
    JSON.stringify(
      [...m.entries()].map(([k, v]) => ({
        key: k.split(' ').map((x) => `0x${x}`),
        value: v.split(' ').map((x) => `0x${x}`),
      })),
    );
  return {
    services: toJson(maps[paths.services] as Map<string, string>),
    backends: toJson(maps[paths.backends] as Map<string, string>),
    revNat: toJson(maps[paths.revNat] as Map<string, string>),
  };
}

const scenarioTable: ServiceTable = [
  { vip: '192.168.27.242', port: 80, proto: 'TCP', revNatId: 1, backends: [{ ip: '10.0.3.38', port: 80 }] },
  { vip: '203.0.113.83', port: 80, proto: 'TCP', revNatId: 2, type: 'ExternalIPs', backends: [{ ip: '10.0.3.38', port: 80 }] },
];

// ---------------------------------------------------------------------------
// Byte layouts

test('service key/value bytes: address and port big-endian, slot/ids/count little-endian', (t) => {
  // notes/ebpf-lb.md §3.6: frontend 10.96.0.10:80, slot 0, count 2, rev_nat 1 (Cilium v1.14, proto 0).
  t.is(encodeServiceKey({ address: '10.96.0.10', port: 80, slot: 0, proto: 0, scope: 0 }).toString('hex'), '0a60000a0050000000000000');
  t.is(encodeServiceValue({ backendId: 0, count: 2, revNatIndex: 1, flags: 0, flags2: 0 }).toString('hex'), '000000000200010000000000');
  t.is(encodeServiceKey({ address: '10.96.0.10', port: 8080, slot: 258, proto: 6, scope: 0 }).toString('hex'), '0a60000a1f90020106000000');
  t.is(encodeServiceValue({ backendId: 0x01020304, count: 0, revNatIndex: 0x0102, flags: 0x40, flags2: 0 }).toString('hex'), '040302010000020140000000');
  t.is(encodeBackendValue({ address: '10.0.0.20', port: 8080, proto: 6, flags: 0, clusterId: 0 }).toString('hex'), '0a0000141f90060000000000');
});

test('encodeServiceTable: argv vectors, hex bytes, write order backends → revnat → slots → frontends', (t) => {
  const argvs = encodeServiceTable(
    [{ vip: '10.96.0.10', port: 80, proto: 'TCP', revNatId: 1, backends: [{ ip: '10.0.0.20', port: 8080 }, { ip: '10.0.0.21', port: 8080 }] }],
    paths,
  );
  t.deepEqual(argvs[0], [
    'bpftool', 'map', 'update', 'pinned', `${M}/lb4_backends`,
    'key', 'hex', '01', '00', '00', '00',
    'value', 'hex', '0a', '00', '00', '14', '1f', '90', '06', '00', '00', '00', '00', '00',
  ]);
  t.deepEqual(argvs[2], [
    'bpftool', 'map', 'update', 'pinned', `${M}/lb4_reverse_nat`,
    'key', 'hex', '01', '00', 'value', 'hex', '0a', '60', '00', '0a', '00', '50',
  ]);
  const order = argvs.map((a) => {
    const u = splitUpdate(a);
    return `${u.path.split('/').pop()}:${u.path.endsWith('services_v2') ? u.key.split(' ')[6] : ''}`;
  });
  t.deepEqual(order, ['lb4_backends:', 'lb4_backends:', 'lb4_reverse_nat:', 'lb4_services_v2:01', 'lb4_services_v2:02', 'lb4_services_v2:00']);
  // Slot 2 → backend 2, service key proto = TCP.
  t.is(splitUpdate(argvs[4] as string[]).key, '0a 60 00 0a 00 50 02 00 06 00 00 00');
  t.is(splitUpdate(argvs[4] as string[]).value, '02 00 00 00 00 00 01 00 00 00 00 00');
  // Frontend: count 2, rev_nat 1, ClusterIP (not routable) → flags 0.
  t.is(splitUpdate(argvs[5] as string[]).value, '00 00 00 00 02 00 01 00 00 00 00 00');
  for (const a of argvs) for (const tok of a) t.false(/\s/.test(tok), 'argv tokens never need a shell');
});

test('backend ids are shared by services that use the same ip:port/proto', (t) => {
  const l = layoutServiceTable(scenarioTable);
  t.deepEqual(l.backends.map((b) => b.id), [1]);
  t.deepEqual(
    l.services.map((s) => [s.key.address, s.key.slot, s.value.backendId, s.value.count, s.value.flags]),
    [
      ['192.168.27.242', 1, 1, 0, 0],
      ['203.0.113.83', 1, 1, 0, 0x41],
      ['192.168.27.242', 0, 0, 1, 0],
      ['203.0.113.83', 0, 0, 1, 0x41],
    ],
  );
});

test('validation errors name the service and the field', (t) => {
  const bad = (table: ServiceTable) => () => layoutServiceTable(table);
  t.throws(bad([{ vip: '10.96.0.300', port: 80, proto: 'TCP', revNatId: 1, backends: [] }]), { message: /not an IPv4 address/ });
  t.throws(bad([{ vip: '10.96.0.1', port: 0, proto: 'TCP', revNatId: 1, backends: [] }]), { message: /port must be/ });
  t.throws(bad([{ vip: '10.96.0.1', port: 80, proto: 'TCP', revNatId: 0, backends: [] }]), { message: /revNatId/ });
  t.throws(
    bad([
      { vip: '10.96.0.1', port: 80, proto: 'TCP', revNatId: 1, backends: [] },
      { vip: '10.96.0.2', port: 80, proto: 'TCP', revNatId: 1, backends: [] },
    ]),
    { message: /revNatId 1 already used/ },
  );
  t.throws(
    bad([
      { vip: '10.96.0.1', port: 80, proto: 'TCP', revNatId: 1, backends: [] },
      { vip: '10.96.0.1', port: 80, proto: 'TCP', revNatId: 2, backends: [] },
    ]),
    { message: /duplicate service address/ },
  );
  t.throws(bad([{ vip: '10.96.0.1', port: 80, proto: 'TCP', revNatId: 1, backends: [{ ip: '10.0.0.01', port: 80 }] }]), {
    message: /not an IPv4 address/,
  });
});

// ---------------------------------------------------------------------------
// Dumps

// Verbatim `bpftool -j map dump pinned …` output (bpftool 7.1 on Linux 6.18, lb4.o with
// BTF): "formatted" shows the big-endian port 80 as 20480 and 8080 as 36895 – never use it.
const realServicesDump = `[{"key":["0x0a","0x60","0x00","0x0a","0x00","0x50","0x01","0x00","0x06","0x00","0x00","0x00"],"value":["0x01","0x00","0x00","0x00","0x00","0x00","0x07","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"address":167796746,"dport":20480,"backend_slot":1,"proto":6,"scope":0,"pad":[0,0]},"value":{"backend_id":1,"count":0,"rev_nat_index":7,"flags":0,"flags2":0,"pad":[0,0]}}},{"key":["0x0a","0x60","0x00","0x0a","0x00","0x50","0x00","0x00","0x06","0x00","0x00","0x00"],"value":["0x00","0x00","0x00","0x00","0x01","0x00","0x07","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"address":167796746,"dport":20480,"backend_slot":0,"proto":6,"scope":0,"pad":[0,0]},"value":{"backend_id":0,"count":1,"rev_nat_index":7,"flags":0,"flags2":0,"pad":[0,0]}}}]`;
const realBackendsDump = `[{"key":["0x01","0x00","0x00","0x00"],"value":["0x0a","0x00","0x00","0x14","0x1f","0x90","0x06","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":1,"value":{"address":335544330,"port":36895,"proto":6,"flags":0,"cluster_id":0,"pad":[0,0,0]}}}]`;
const realRevNatDump = `[{"key":["0x07","0x00"],"value":["0x0a","0x60","0x00","0x0a","0x00","0x50"],"formatted":{"key":7,"value":{"address":167796746,"port":20480}}}]`;

test('dump parsing decodes the raw bytes, not the BTF "formatted" view', (t) => {
  const s = decodeServicesDump(realServicesDump);
  t.is(s.length, 2);
  t.deepEqual(s[1], {
    key: { address: '10.96.0.10', port: 80, slot: 0, proto: 6, scope: 0 },
    value: { backendId: 0, count: 1, revNatIndex: 7, flags: 0, flags2: 0 },
  });
  t.deepEqual(decodeBackendsDump(realBackendsDump), [{ id: 1, address: '10.0.0.20', port: 8080, proto: 6, flags: 0, clusterId: 0 }]);
  const dump = parseLbMapsDump({ services: realServicesDump, backends: realBackendsDump, revNat: realRevNatDump });
  t.deepEqual(dumpToTable(dump), {
    table: [{ vip: '10.96.0.10', port: 80, proto: 'TCP', revNatId: 7, type: 'ClusterIP', backends: [{ ip: '10.0.0.20', port: 8080 }] }],
    problems: [],
  });
  // Without BTF bpftool prints only key/value; an empty map is "[]"; bytes may be decimal.
  t.deepEqual(parseBpftoolDump('[]'), []);
  t.deepEqual(parseBpftoolDump('[{"key":[1,0],"value":["10","0x60"]}]')[0]?.key, Buffer.from([1, 0]));
  t.throws(() => decodeServicesDump('[{"key":["0x01"],"value":[]}]'), { message: /expected 12 bytes/ });
  t.throws(() => parseBpftoolDump('{"error":"x"}'), { message: /JSON array/ });
});

test('dumpToTable reports inconsistent maps instead of throwing', (t) => {
  const dump: LbMapsDump = {
    services: [
      { key: { address: '10.96.0.10', port: 80, slot: 0, proto: 6, scope: 0 }, value: { backendId: 0, count: 3, revNatIndex: 1, flags: 0, flags2: 0 } },
      { key: { address: '10.96.0.10', port: 80, slot: 1, proto: 6, scope: 0 }, value: { backendId: 9, count: 0, revNatIndex: 1, flags: 0, flags2: 0 } },
      { key: { address: '10.96.0.10', port: 80, slot: 2, proto: 6, scope: 0 }, value: { backendId: 1, count: 0, revNatIndex: 1, flags: 0, flags2: 0 } },
    ],
    backends: [{ id: 1, address: '10.0.0.20', port: 80, proto: 6, flags: 0, clusterId: 0 }],
    revNat: [],
  };
  const r = dumpToTable(dump);
  t.deepEqual(r.table[0]?.backends, [{ ip: '10.0.0.20', port: 80 }]);
  t.deepEqual(r.problems, [
    '10.96.0.10:80/TCP: slot 1: backend 9 not found',
    '10.96.0.10:80/TCP: slot 3 missing',
    '10.96.0.10:80/TCP: reverse NAT 1 not found',
  ]);
  t.regex(formatLbList(dump, { trimTrailingSpace: true }), /^ +backend 9 not found$/m);
});

test('property: encode → bpftool dump → decode gives the table back', (t) => {
  const octet = fc.integer({ min: 0, max: 255 });
  const ip = fc.tuple(octet, octet, octet, octet).map((a) => a.join('.'));
  const port = fc.integer({ min: 1, max: 65535 });
  const svc = fc.record({
    vip: ip,
    port,
    proto: fc.constantFrom('TCP' as const, 'UDP' as const, 'ANY' as const),
    backends: fc.array(fc.record({ ip, port }), { maxLength: 5 }),
    type: fc.constantFrom('ClusterIP' as const, 'ExternalIPs' as const, 'LoadBalancer' as const, 'NodePort' as const),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(svc, { selector: (s) => `${s.vip}:${s.port}/${s.proto}`, maxLength: 6 }),
      (svcs) => {
        const table: ServiceTable = svcs.map((s, i) => ({ ...s, revNatId: i + 1 }));
        const dumps = applyToDumps(encodeServiceTable(table, paths));
        const back = dumpToTable(parseLbMapsDump(dumps));
        assert.deepEqual(back.problems, []);
        const norm = (x: ServiceTable) =>
          [...x]
            .map((s) => ({ vip: s.vip, port: s.port, proto: s.proto, revNatId: s.revNatId, type: s.type ?? 'ClusterIP', backends: s.backends.map((b) => ({ ip: b.ip, port: b.port })) }))
            .sort((a, b) => a.revNatId - b.revNatId);
        assert.deepEqual(norm(back.table), norm(table));
      },
    ),
    { numRuns: 200 },
  );
  t.pass();
});

test('syncServiceTable: changes keep ids, raise count last, lower count first, delete unused backends last', (t) => {
  const v1: ServiceTable = [
    { vip: '10.96.0.10', port: 80, proto: 'TCP', revNatId: 1, backends: [{ ip: '10.0.0.20', port: 80 }, { ip: '10.0.0.21', port: 80 }] },
    { vip: '10.96.0.11', port: 53, proto: 'UDP', revNatId: 2, backends: [{ ip: '10.0.0.30', port: 53 }] },
  ];
  const first = applyToDumps(encodeServiceTable(v1, paths));
  const cur = parseLbMapsDump(first);
  t.deepEqual(syncServiceTable(cur, v1, paths), [], 'no change, no command');

  // Drop backend 10.0.0.20 and the UDP service, add 10.0.0.22.
  const v2: ServiceTable = [
    { vip: '10.96.0.10', port: 80, proto: 'TCP', revNatId: 1, backends: [{ ip: '10.0.0.21', port: 80 }, { ip: '10.0.0.22', port: 80 }] },
  ];
  const argvs = syncServiceTable(cur, v2, paths);
  const steps = argvs.map((a) => {
    const u = splitUpdate(a);
    return `${u.op} ${u.path.split('/').pop()} ${u.key}`;
  });
  t.deepEqual(steps, [
    'update lb4_backends 04 00 00 00', // new backend gets the lowest free id (1..3 are used)
    'update lb4_services_v2 0a 60 00 0a 00 50 01 00 06 00 00 00', // slot 1 → backend 2 (10.0.0.21 keeps id 2)
    'update lb4_services_v2 0a 60 00 0a 00 50 02 00 06 00 00 00', // slot 2 → backend 4
    'delete lb4_services_v2 0a 60 00 0b 00 35 00 00 11 00 00 00', // UDP frontend first…
    'delete lb4_services_v2 0a 60 00 0b 00 35 01 00 11 00 00 00', // …then its slot
    'delete lb4_reverse_nat 02 00',
    'delete lb4_backends 01 00 00 00',
    'delete lb4_backends 03 00 00 00',
  ]);
  // Apply on top of the first state.
  const state: Record<string, Map<string, string>> = { [paths.services]: new Map(), [paths.backends]: new Map(), [paths.revNat]: new Map() };
  applyToDumps(encodeServiceTable(v1, paths), state);
  const final = dumpToTable(parseLbMapsDump(applyToDumps(argvs, state)));
  t.deepEqual(final.problems, []);
  t.deepEqual(final.table.map((s) => s.backends), [[{ ip: '10.0.0.21', port: 80 }, { ip: '10.0.0.22', port: 80 }]]);
});

// ---------------------------------------------------------------------------
// cilium bpf lb list

test('formatLbList matches cilium bpf lb list (tabwriter padding, flags, slots)', (t) => {
  const dumps = applyToDumps(
    encodeServiceTable(
      [
        ...scenarioTable,
        { vip: '10.96.0.10', port: 53, proto: 'UDP', revNatId: 3, backends: [{ ip: '10.0.0.20', port: 53 }, { ip: '10.0.0.21', port: 53 }] },
      ],
      paths,
    ),
  );
  const dump = parseLbMapsDump(dumps);
  const text = formatLbList(dump);
  // Go's tabwriter (minwidth 5, padding 3) pads every tab-terminated cell, the last one too.
  t.is(
    text,
    [
      'SERVICE ADDRESS     BACKEND ADDRESS (REVNAT_ID) (SLOT)             ',
      '10.96.0.10:53       0.0.0.0:0 (3) (0) [ClusterIP, non-routable]    ',
      '                    10.0.0.20:53/UDP (3) (1)                       ',
      '                    10.0.0.21:53/UDP (3) (2)                       ',
      '192.168.27.242:80   0.0.0.0:0 (1) (0) [ClusterIP, non-routable]    ',
      '                    10.0.3.38:80/TCP (1) (1)                       ',
      '203.0.113.83:80     0.0.0.0:0 (2) (0) [ExternalIPs]                ',
      '                    10.0.3.38:80/TCP (2) (1)                       ',
      '',
    ].join('\n'),
  );
  t.true(formatLbList(dump, { trimTrailingSpace: true }).startsWith('SERVICE ADDRESS     BACKEND ADDRESS (REVNAT_ID) (SLOT)\n'));
  t.is(
    formatLbList(dump, { mode: 'revnat', trimTrailingSpace: true }),
    'ID   BACKEND ADDRESS (REVNAT_ID) (SLOT)\n1    192.168.27.242:80\n2    203.0.113.83:80\n3    10.96.0.10:53\n',
  );
  t.is(
    formatLbList(dump, { mode: 'backends', trimTrailingSpace: true }),
    'ID   BACKEND ADDRESS (REVNAT_ID) (SLOT)\n1    TCP://10.0.3.38\n2    UDP://10.0.0.20\n3    UDP://10.0.0.21\n',
  );
});

test('goTabwriter: minwidth 5, padding 3', (t) => {
  t.is(goTabwriter([['a', 'b'], ['abcdef', '']]), 'a        b    \nabcdef        \n');
});

test('lb4_ct dump decode and listing', (t) => {
  const key = (d: string, s: string, dp: number, sp: number, flags: number) => {
    const b = Buffer.alloc(16);
    Buffer.from(d.split('.').map(Number)).copy(b, 0);
    Buffer.from(s.split('.').map(Number)).copy(b, 4);
    b.writeUInt16BE(dp, 8);
    b.writeUInt16BE(sp, 10);
    b[12] = 6;
    b[13] = flags;
    return [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);
  };
  const val = (pk: number, be: number, rev: number) => {
    const b = Buffer.alloc(24);
    b.writeBigUInt64LE(BigInt(pk), 0);
    b.writeBigUInt64LE(123n, 8);
    b.writeUInt32LE(be, 16);
    b.writeUInt16LE(rev, 20);
    return [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);
  };
  const json = JSON.stringify([
    { key: key('10.0.0.20', '10.0.0.10', 8080, 40000, 0), value: val(3, 1, 1) },
    { key: key('10.96.0.10', '10.0.0.10', 80, 40000, 4), value: val(3, 1, 1) },
  ]);
  const ct = decodeCtDump(json);
  t.is(ct[1]?.value.packets, 3n);
  t.is(
    formatCtList(ct),
    'TCP SVC 10.0.0.10:40000 -> 10.96.0.10:80 backend=1 RevNAT=1 packets=3\n' +
      'TCP OUT 10.0.0.10:40000 -> 10.0.0.20:8080 backend=1 RevNAT=1 packets=3\n',
  );
});

test('toBpftoolBatch writes one bpftool command per line and refuses unsafe tokens', (t) => {
  const argvs = encodeServiceTable(scenarioTable, paths);
  const text = toBpftoolBatch(argvs);
  t.is(text.split('\n').length, argvs.length + 1);
  t.true(text.startsWith(`map update pinned ${M}/lb4_backends key hex 01 00 00 00 value hex 0a 00 03 26 00 50 06 00 00 00 00 00\n`));
  t.throws(() => toBpftoolBatch([['bpftool', 'map', 'update', 'pinned', '/sys/fs/bpf/a b']]), { message: /cannot be written/ });
  t.throws(() => toBpftoolBatch([['rm', '-rf', '/']]), { message: /bpftool commands/ });
});

// ---------------------------------------------------------------------------
// Loader

test('ebpfLoadSteps: bpftool loads and pins, tc attaches pinned programs through nsenter --net', (t) => {
  const steps = ebpfLoadSteps({ netns: 'lab1-centos', pinDir: '/sys/fs/bpf/lab/lab1/centos', object: '/w/.lab/bpf/lb4.o' });
  t.deepEqual(steps.map((s) => s.argv), [
    ['mkdir', '-p', '/sys/fs/bpf/lab/lab1'],
    ['bpftool', 'prog', 'loadall', '/w/.lab/bpf/lb4.o', '/sys/fs/bpf/lab/lab1/centos', 'type', 'classifier', 'pinmaps', '/sys/fs/bpf/lab/lab1/centos/maps'],
    ['nsenter', '--net=/run/netns/lab1-centos', 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'clsact'],
    ['nsenter', '--net=/run/netns/lab1-centos', 'tc', 'filter', 'replace', 'dev', 'eth0', 'egress', 'prio', '1', 'handle', '1', 'bpf', 'da', 'pinned', '/sys/fs/bpf/lab/lab1/centos/from_container'],
    ['nsenter', '--net=/run/netns/lab1-centos', 'tc', 'filter', 'replace', 'dev', 'eth0', 'ingress', 'prio', '1', 'handle', '1', 'bpf', 'da', 'pinned', '/sys/fs/bpf/lab/lab1/centos/to_container'],
  ]);
  t.deepEqual(steps.map((s) => s.netns), [null, null, 'lab1-centos', 'lab1-centos', 'lab1-centos']);
  t.false(steps.some((s) => s.argv.includes('exec')), 'never ip netns exec (it hides /sys/fs/bpf)');
  t.is(ebpfPinPaths('/sys/fs/bpf/lab/lab1/centos/').maps.services, '/sys/fs/bpf/lab/lab1/centos/maps/lb4_services_v2');
});

test('ebpfLoadSteps: shared service maps, unload, validation', (t) => {
  const steps = ebpfLoadSteps({
    netns: 'lab1-nginx', pinDir: '/sys/fs/bpf/lab/lab1/nginx', object: 'lb4.o', shareMapsFrom: '/sys/fs/bpf/lab/lab1/centos/maps',
  });
  t.deepEqual(steps[1]?.argv, [
    'bpftool', 'prog', 'loadall', 'lb4.o', '/sys/fs/bpf/lab/lab1/nginx', 'type', 'classifier',
    'map', 'name', 'lb4_services_v2', 'pinned', '/sys/fs/bpf/lab/lab1/centos/maps/lb4_services_v2',
    'map', 'name', 'lb4_backends', 'pinned', '/sys/fs/bpf/lab/lab1/centos/maps/lb4_backends',
    'map', 'name', 'lb4_reverse_nat', 'pinned', '/sys/fs/bpf/lab/lab1/centos/maps/lb4_reverse_nat',
    'pinmaps', '/sys/fs/bpf/lab/lab1/nginx/maps',
  ]);
  t.deepEqual(ebpfUnloadSteps({ netns: 'lab1-nginx', pinDir: '/sys/fs/bpf/lab/lab1/nginx', dev: 'eth1' }).map((s) => s.argv), [
    ['nsenter', '--net=/run/netns/lab1-nginx', 'tc', 'qdisc', 'del', 'dev', 'eth1', 'clsact'],
    ['rm', '-rf', '--', '/sys/fs/bpf/lab/lab1/nginx'],
  ]);
  t.deepEqual(nsenterArgv('x', ['ip', 'a'], '/var/run/netns/'), ['nsenter', '--net=/var/run/netns/x', 'ip', 'a']);
  t.throws(() => ebpfPinPaths('/sys/fs/bpf/lab.1/x'), { message: /must not contain '\.'/ });
  t.throws(() => ebpfPinPaths('relative/x'), { message: /absolute/ });
  t.throws(() => ebpfLoadSteps({ netns: '../etc', pinDir: '/sys/fs/bpf/x', object: 'o' }), { message: /bad netns/ });
  t.throws(() => ebpfLoadSteps({ netns: 'a', pinDir: '/sys/fs/bpf/x', object: 'o', dev: 'a-very-long-ifname0' }), { message: /15 bytes/ });
});

test('ebpfBuildArgv: clang -O2 -g -target bpf', (t) => {
  t.deepEqual(ebpfBuildArgv({ source: '/w/bpf/lb4.c', output: '/w/.lab/bpf/lb4.o', multiarch: 'x86_64-linux-gnu', defines: ['LB4_MAX_CT=1024'] }), [
    'clang', '-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', '-I/usr/include/x86_64-linux-gnu', '-I/w/bpf', '-DLB4_MAX_CT=1024',
    '-c', '/w/bpf/lb4.c', '-o', '/w/.lab/bpf/lb4.o',
  ]);
  t.throws(() => ebpfBuildArgv({ source: 'a', output: 'b', defines: ['X;rm'] }));
});
