import test from 'ava';
import {
  assertCidr,
  birdArgv,
  birdcArgv,
  birdConfigForNode,
  birdConfigForRouter,
  birdSymbol,
  calicoGlobalPeerName,
  calicoMeshPeerName,
  calicoNodePeerName,
  ipInCidr,
  isEstablished,
  parseBirdProtocols,
  parseBirdRoutes,
  parseIpRouteJson,
} from '../../lab/families/calico/bgp/index.ts';
import type { CalicoNodeBirdInput, RouterBirdInput } from '../../lab/families/calico/bgp/index.ts';

const workerB: CalicoNodeBirdInput = {
  nodeName: 'worker-b',
  nodeIp: '192.168.64.58',
  localAs: 65001,
  blocks: ['10.217.120.64/26'],
  pools: ['10.217.0.0/16'],
  nodePeers: [{ name: 'tor-rack1', ip: '192.168.64.1', as: 65001 }],
  log: { file: '/tmp/x/node2.log' },
};

/** Body of `<kind> <name> … {` up to its matching closing brace. */
function block(text: string, header: string): string {
  const start = text.indexOf(header);
  if (start < 0) throw new Error(`no "${header}" in config`);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`unbalanced braces after "${header}"`);
}

// ---- naming -------------------------------------------------------------------------------------------

test('Calico protocol names', (t) => {
  t.is(calicoNodePeerName('192.168.64.1'), 'Node_192_168_64_1');
  t.is(calicoNodePeerName('192.168.64.1', 1790), 'Node_192_168_64_1_port_1790');
  t.is(calicoGlobalPeerName('10.0.0.9'), 'Global_10_0_0_9');
  t.is(calicoMeshPeerName('192.168.64.57'), 'Mesh_192_168_64_57');
  t.is(birdSymbol('tor-rack1'), 'tor_rack1');
  t.is(birdSymbol('1st'), 'p_1st');
  t.throws(() => calicoNodePeerName('192.168.64.256'));
  t.throws(() => calicoNodePeerName('192.168.064.1'));
});

test('CIDR helpers', (t) => {
  t.is(assertCidr('10.217.120.64/26'), '10.217.120.64/26');
  t.throws(() => assertCidr('10.217.120.72/26'), { message: /host bits/ });
  t.throws(() => assertCidr('10.0.0.0/33'));
  t.throws(() => assertCidr('10.0.0.0'));
  t.true(ipInCidr('10.217.120.72', '10.217.120.64/26'));
  t.false(ipInCidr('10.217.120.128', '10.217.120.64/26'));
  t.true(ipInCidr('200.1.2.3', '0.0.0.0/0'));
  t.true(ipInCidr('255.255.255.255', '255.255.255.0/24'));
});

// ---- node config --------------------------------------------------------------------------------------

test('node: static blackhole for the local block, /32 blocks skipped', (t) => {
  const conf = birdConfigForNode({ ...workerB, blocks: ['10.217.120.64/26', '10.217.1.7/32'] });
  const st = block(conf, 'protocol static {');
  t.regex(st, /route 10\.217\.120\.64\/26 blackhole;/);
  t.notRegex(st, /10\.217\.1\.7/);
  // but the /32 block is still aggregated (accept exact, reject beneath)
  const aggr = block(conf, 'function calico_aggr ()');
  t.regex(aggr, /if \( net = 10\.217\.120\.64\/26 \) then \{ accept; \}\n\s+if \( net ~ 10\.217\.120\.64\/26 \) then \{ reject; \}/);
  t.regex(aggr, /if \( net = 10\.217\.1\.7\/32 \) then \{ accept; \}/);
});

test('node: no blocks → no protocol static', (t) => {
  const conf = birdConfigForNode({ ...workerB, blocks: [] });
  t.false(conf.includes('protocol static'));
  t.true(conf.includes('# No IP blocks or static routes for this host.'));
});

test('node: non-confirmed blocks are not aggregated', (t) => {
  const conf = birdConfigForNode({ ...workerB, blocks: [{ cidr: '10.217.120.64/26', state: 'pending' }] });
  const aggr = block(conf, 'function calico_aggr ()');
  t.true(aggr.includes('# Block 10.217.120.64/26 is pending'));
  t.false(aggr.includes('net ='));
});

test('node: export filter advertises the block, not the /32s (calico_export_to_bgp_peers)', (t) => {
  const conf = birdConfigForNode(workerB);
  const fn = block(conf, 'function calico_export_to_bgp_peers(bool internal_peer)');
  // order matters: aggregation before the pool accept, so /32s inside the block are rejected first
  t.true(fn.indexOf('calico_aggr();') < fn.indexOf('if ( net ~ 10.217.0.0/16 ) then {'));
  t.true(fn.indexOf('reject_disabled_pools();') < fn.indexOf('calico_aggr();'));
  t.regex(fn, /if \(internal_peer\) then \{\n\s+reject_tunnel_routes\(\);/);
});

test('node: protocol kernel / device / direct as in the Calico template', (t) => {
  const conf = birdConfigForNode({ ...workerB, timers: { scanTimeSeconds: 1 } });
  const k = block(conf, 'protocol kernel {');
  for (const re of [
    /\n\s+learn;/,
    /\n\s+persist;/,
    /\n\s+scan time 1;/,
    /\n\s+metric 0;/,
    /ipv4 \{\n\s+import all;\n\s+export filter calico_kernel_programming;/,
    /\n\s+graceful restart;/,
    /\n\s+merge paths on;/,
  ]) {
    t.regex(k, re);
  }
  t.regex(block(conf, 'protocol device {'), /scan time 1;/);
  t.regex(block(conf, 'protocol direct {'), /interface -"cali\*", -"kube-ipvs\*", "\*";/);
  const kp = block(conf, 'filter calico_kernel_programming {');
  t.regex(kp, /if \( source = RTS_DEVICE \) then \{ reject; \}/);
  t.regex(kp, /if \( net ~ 10\.217\.0\.0\/16 \) then \{[^}]*accept;\n\s+\}\n\s+accept;\n\}$/);
  t.regex(conf, /^router id 192\.168\.64\.58;$/m);
});

test('node: bgp_template carries Calico timers, overridable', (t) => {
  const def = block(birdConfigForNode(workerB), 'template bgp bgp_template {');
  t.regex(def, /local as 65001;/);
  t.regex(def, /\n\s+multihop;/);
  t.regex(def, /gateway recursive;/);
  t.regex(def, /add paths on;/);
  t.regex(def, /connect delay time 1;/);
  t.regex(def, /connect retry time 3;/);
  t.regex(def, /error wait time 5,60;/);
  const fast = block(
    birdConfigForNode({ ...workerB, timers: { connectRetrySeconds: 1, connectDelaySeconds: 0, errorWaitSeconds: [1, 5] } }),
    'template bgp bgp_template {',
  );
  t.regex(fast, /connect retry time 1;/);
  t.regex(fast, /connect delay time 0;/);
  t.regex(fast, /error wait time 1,5;/);
  t.throws(() => birdConfigForNode({ ...workerB, timers: { connectRetrySeconds: 0 } }));
  t.throws(() => birdConfigForNode({ ...workerB, timers: { errorWaitSeconds: [9, 2] } }));
});

test('node: node-specific BGPPeer → Node_<ip>, iBGP uses calico_export_to_bgp_peers(true)', (t) => {
  const conf = birdConfigForNode(workerB);
  const p = block(conf, 'protocol bgp Node_192_168_64_1 from bgp_template {');
  t.regex(p, /neighbor 192\.168\.64\.1 as 65001;/);
  t.regex(p, /source address 192\.168\.64\.58;/);
  t.regex(p, /import all;/);
  t.regex(p, /export filter \{\n\s+calico_export_to_bgp_peers\(true\);\n\s+reject;\n\s+\};/);
  t.false(p.includes('next hop keep'));
  t.true(conf.includes('# Node-to-node mesh disabled'));
  t.true(conf.includes('# No global peers configured.'));
});

test('node: eBGP peer → calico_export_to_bgp_peers(false), next hop keep, port suffix, password', (t) => {
  const conf = birdConfigForNode({
    ...workerB,
    nodePeers: [{ ip: '192.168.64.1', as: 65100, port: 1790, keepNextHop: true, password: 's3cret', restartTimeSeconds: 120 }],
  });
  const p = block(conf, 'protocol bgp Node_192_168_64_1_port_1790 from bgp_template {');
  t.regex(p, /neighbor 192\.168\.64\.1 port 1790 as 65100;/);
  t.regex(p, /calico_export_to_bgp_peers\(false\);/);
  t.regex(p, /next hop keep;/);
  t.regex(p, /password "s3cret";/);
  t.regex(p, /graceful restart time 120;/);
  // exactly one ipv4 channel block per protocol (BIRD 2 rejects "Multiple ipv4 channels")
  t.is(p.match(/ipv4 \{/g)?.length, 1);
  // keep_next_hop is ignored for iBGP, as in the template
  const ibgp = birdConfigForNode({ ...workerB, nodePeers: [{ ip: '192.168.64.1', as: 65001, keepNextHop: true }] });
  t.false(ibgp.includes('next hop keep'));
});

test('node: mesh peers, passive for the higher IP, skipping ourselves; global peers', (t) => {
  const conf = birdConfigForNode({
    ...workerB,
    meshPeers: [
      { ip: '192.168.64.57', as: 65001 },
      { ip: '192.168.64.58', as: 65001 },
      { ip: '192.168.64.59', as: 65001 },
    ],
    globalPeers: [{ ip: '10.0.0.9', as: 65009 }],
  });
  t.false(block(conf, 'protocol bgp Mesh_192_168_64_57 from bgp_template {').includes('passive on'));
  t.true(block(conf, 'protocol bgp Mesh_192_168_64_59 from bgp_template {').includes('passive on;'));
  t.false(conf.includes('Mesh_192_168_64_58'));
  t.true(conf.includes('# Skipping ourselves (192.168.64.58)'));
  t.regex(block(conf, 'protocol bgp Global_10_0_0_9 from bgp_template {'), /calico_export_to_bgp_peers\(false\)/);
});

test('node: pools (VXLAN rejected from kernel, disableBGPExport) and validation', (t) => {
  const conf = birdConfigForNode({
    ...workerB,
    blocks: ['10.217.120.64/26', '10.99.0.0/26'],
    pools: ['10.217.0.0/16', { cidr: '10.99.0.0/16', encapsulation: 'vxlan', disableBGPExport: true }],
  });
  t.regex(block(conf, 'function reject_disabled_pools ()'), /if \( net ~ 10\.99\.0\.0\/16 \) then \{ reject; \}/);
  t.true(conf.includes('# Skip 10.99.0.0/16 as BGP export is disabled for it'));
  t.regex(block(conf, 'filter calico_kernel_programming {'), /10\.99\.0\.0\/16 \) then \{\n[^\n]*VXLAN[^\n]*\n\s+reject;/);
  t.throws(() => birdConfigForNode({ ...workerB, blocks: ['10.1.0.0/26'] }), { message: /outside every pool/ });
  t.throws(() => birdConfigForNode({ ...workerB, pools: [] }));
  t.throws(() => birdConfigForNode({ ...workerB, blocks: ['10.217.120.72/26'] }), { message: /host bits/ });
  t.throws(() => birdConfigForNode({ ...workerB, pools: [{ cidr: '10.217.0.0/16', encapsulation: 'ipip' as 'none' }] }), {
    message: /not supported/,
  });
  t.throws(() => birdConfigForNode({ ...workerB, localAs: 0 }));
  t.throws(() => birdConfigForNode({ ...workerB, nodePeers: [{ ip: '192.168.64.1', as: 65001, password: 'a"b' }] }));
  t.throws(() =>
    birdConfigForNode({
      ...workerB,
      nodePeers: [
        { ip: '192.168.64.1', as: 65001 },
        { ip: '192.168.64.1', as: 65002 },
      ],
    }),
  );
});

test('node: every path comes from input; nothing points at /run/bird', (t) => {
  const conf = birdConfigForNode(workerB);
  t.regex(conf, /^log "\/tmp\/x\/node2\.log" all;$/m);
  t.false(conf.includes('/run/bird'));
  t.false(conf.includes('/var/run'));
  t.false(birdConfigForNode({ ...workerB, log: undefined }).includes('log '));
  t.regex(birdConfigForNode({ ...workerB, log: { stderr: true, classes: ['warning', 'error'] } }), /^log stderr \{ warning, error \};$/m);
  t.deepEqual(birdArgv({ configPath: '/tmp/x/n.conf', socketPath: '/tmp/x/n.ctl', pidFile: '/tmp/x/n.pid' }), [
    '-c',
    '/tmp/x/n.conf',
    '-s',
    '/tmp/x/n.ctl',
    '-P',
    '/tmp/x/n.pid',
  ]);
  t.deepEqual(birdcArgv('/tmp/x/n.ctl', 'show', 'protocols'), ['-s', '/tmp/x/n.ctl', 'show', 'protocols']);
});

// ---- router config ------------------------------------------------------------------------------------

const tor: RouterBirdInput = {
  name: 'tor-rack1',
  routerId: '192.168.64.1',
  localAs: 65001,
  peers: [
    { name: 'node1', ip: '192.168.64.57', as: 65001, rrClient: true },
    { name: 'node2', ip: '192.168.64.58', as: 65001, rrClient: true },
    { name: 'core', ip: '10.255.0.2', as: 65000 },
  ],
  log: { file: '/tmp/x/tor.log' },
};

test('router: one session per node (rr client for iBGP) plus the core', (t) => {
  const conf = birdConfigForRouter(tor);
  t.regex(conf, /^router id 192\.168\.64\.1;$/m);
  const n1 = block(conf, 'protocol bgp node1 from fabric_peer {');
  t.regex(n1, /neighbor 192\.168\.64\.57 as 65001;/);
  t.regex(n1, /rr client;/);
  const core = block(conf, 'protocol bgp core from fabric_peer {');
  t.regex(core, /neighbor 10\.255\.0\.2 as 65000;/);
  t.false(core.includes('rr client'));
  t.regex(block(conf, 'template bgp fabric_peer {'), /local as 65001;[\s\S]*import all;[\s\S]*export filter fabric_export;/);
  t.regex(block(conf, 'filter fabric_export {'), /if source = RTS_BGP then accept;\n\s+reject;/);
  t.regex(block(conf, 'protocol kernel {'), /export filter \{ if source = RTS_BGP then accept; reject; \};/);
  t.regex(block(conf, 'protocol kernel {'), /import none;/);
  t.false(conf.includes('/run/bird'));
});

test('router: names, originate, validation', (t) => {
  const conf = birdConfigForRouter({
    ...tor,
    peers: [{ ip: '10.255.0.1', as: 65001 }],
    originate: ['10.217.0.0/16'],
    exportToKernel: false,
  });
  t.true(conf.includes('protocol bgp Peer_10_255_0_1 from fabric_peer {'));
  t.regex(block(conf, 'protocol static fabric_originate {'), /route 10\.217\.0\.0\/16 blackhole;/);
  t.regex(block(conf, 'filter fabric_export {'), /source = RTS_BGP \|\| proto = "fabric_originate"/);
  t.regex(block(conf, 'protocol kernel {'), /export none;/);
  t.throws(() => birdConfigForRouter({ ...tor, peers: [{ ip: '10.255.0.2', as: 65000, rrClient: true }] }), {
    message: /iBGP/,
  });
  t.throws(() => birdConfigForRouter({ ...tor, peers: [{ name: 'a', ip: '10.0.0.1', as: 1 }, { name: 'a', ip: '10.0.0.2', as: 1 }] }), {
    message: /duplicate/,
  });
});

// ---- parsers: fixtures captured from bird 2.0.12 in the kernel test ------------------------------------

const TOR_PROTOCOLS = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:22:14.740  
direct1    Direct     ---        up     23:22:14.740  
kernel1    Kernel     master4    up     23:22:14.740  
node1      BGP        ---        up     23:22:15.677  Established   
node2      BGP        ---        up     23:22:15.507  Established   
core       BGP        ---        up     23:22:15.541  Established   
`;

const NODE_PROTOCOLS_DOWN = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
static1    Static     master4    up     23:24:41.451  
kernel1    Kernel     master4    up     23:24:41.451  
device1    Device     ---        up     23:24:41.451  
direct1    Direct     ---        up     23:24:41.451  
Mesh_192_168_64_57 BGP        ---        start  23:24:41.451  Active        Socket: No route to host
Mesh_192_168_64_59 BGP        ---        start  23:24:41.451  Passive       
Global_10_0_0_9_port_1790 BGP        ---        start  23:24:41.451  Active        Socket: Network is unreachable
Node_192_168_64_1 BGP        ---        start  23:24:41.451  Active        Socket: No route to host
`;

test('parseBirdProtocols: established sessions', (t) => {
  const ps = parseBirdProtocols(TOR_PROTOCOLS);
  t.deepEqual(
    ps.map((p) => p.name),
    ['device1', 'direct1', 'kernel1', 'node1', 'node2', 'core'],
  );
  t.deepEqual(ps[3], { name: 'node1', proto: 'BGP', table: '---', state: 'up', since: '23:22:15.677', info: 'Established' });
  t.deepEqual(ps[2], { name: 'kernel1', proto: 'Kernel', table: 'master4', state: 'up', since: '23:22:14.740', info: '' });
  t.deepEqual(
    ps.filter(isEstablished).map((p) => p.name),
    ['node1', 'node2', 'core'],
  );
});

test('parseBirdProtocols: long names shift columns; Info keeps its text', (t) => {
  const ps = parseBirdProtocols(NODE_PROTOCOLS_DOWN);
  const node = ps.find((p) => p.name === 'Node_192_168_64_1');
  t.deepEqual(node, {
    name: 'Node_192_168_64_1',
    proto: 'BGP',
    table: '---',
    state: 'start',
    since: '23:24:41.451',
    info: 'Active        Socket: No route to host',
  });
  t.is(ps.find((p) => p.name === 'Mesh_192_168_64_59')?.info, 'Passive');
  t.is(ps.find((p) => p.name === 'Global_10_0_0_9_port_1790')?.info, 'Active        Socket: Network is unreachable');
  t.is(ps.filter(isEstablished).length, 0);
});

test('parseBirdProtocols: iso long time format (date + time), -v reply codes', (t) => {
  const ps = parseBirdProtocols(
    [
      '0001 BIRD 2.0.12 ready.',
      '2002-Name       Proto      Table      State  Since         Info',
      '1002-Node_10_0_0_1 BGP        ---        up     2026-11-21 23:22:15  Established   ',
      ' kernel1    Kernel     master4    up     2026-11-21 23:22:14  ',
      '0000 ',
    ].join('\n'),
  );
  t.is(ps.length, 2);
  t.is(ps[0]?.since, '2026-11-21 23:22:15');
  t.is(ps[0]?.info, 'Established');
  t.true(isEstablished(ps[0]!));
  t.is(ps[1]?.name, 'kernel1');
});

const TOR_ROUTE_ALL = `BIRD 2.0.12 ready.
Table master4:
192.168.64.0/24      unicast [direct1 23:22:14.740] * (240)
\tdev br-rack
\tType: device univ
10.255.0.0/30        unicast [direct1 23:22:14.740] * (240)
\tdev eth-core
\tType: device univ
10.217.120.64/26     unicast [node2 23:22:15.535] * (100) [i]
\tvia 192.168.64.58 on br-rack
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 192.168.64.58
\tBGP.local_pref: 100
10.217.11.0/26       unicast [node1 23:22:15.715] * (100) [i]
\tvia 192.168.64.57 on br-rack
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 192.168.64.57
\tBGP.local_pref: 100
`;

const NODE1_ROUTE = `BIRD 2.0.12 ready.
Table master4:
0.0.0.0/0            unicast [kernel1 23:22:14.732] * (10)
\tvia 192.168.64.1 on eth0
192.168.64.0/24      unicast [direct1 23:22:14.732] * (240)
\tdev eth0
10.217.120.64/26     unicast [Node_192_168_64_1 23:22:15.716 from 192.168.64.1] * (100) [i]
\tvia 192.168.64.58 on eth0
10.217.11.0/26       blackhole [static1 23:22:14.731] * (200)
10.217.11.5/32       unicast [kernel1 23:22:14.732] * (10)
\tdev calic32e78788da
`;

test('parseBirdRoutes: ToR show route all (node is next hop and peer)', (t) => {
  const rs = parseBirdRoutes(TOR_ROUTE_ALL);
  t.is(rs.length, 4);
  const b2 = rs.find((r) => r.prefix === '10.217.120.64/26');
  t.deepEqual(b2, {
    prefix: '10.217.120.64/26',
    kind: 'unicast',
    protocol: 'node2',
    via: ['192.168.64.58'],
    dev: ['br-rack'],
    fromPeer: '192.168.64.58',
    primary: true,
    preference: 100,
    origin: '[i]',
    attrs: {
      Type: 'BGP univ',
      'BGP.origin': 'IGP',
      'BGP.as_path': '',
      'BGP.next_hop': '192.168.64.58',
      'BGP.local_pref': '100',
    },
  });
  const direct = rs.find((r) => r.prefix === '192.168.64.0/24');
  t.is(direct?.protocol, 'direct1');
  t.deepEqual(direct?.dev, ['br-rack']);
  t.deepEqual(direct?.via, []);
  t.is(direct?.fromPeer, null);
});

test('parseBirdRoutes: node show route (reflected route has "from", blackhole, kernel-learned /32)', (t) => {
  const rs = parseBirdRoutes(NODE1_ROUTE);
  const reflected = rs.find((r) => r.prefix === '10.217.120.64/26');
  t.is(reflected?.protocol, 'Node_192_168_64_1');
  t.is(reflected?.fromPeer, '192.168.64.1');
  t.deepEqual(reflected?.via, ['192.168.64.58']);
  const bh = rs.find((r) => r.prefix === '10.217.11.0/26');
  t.is(bh?.kind, 'blackhole');
  t.is(bh?.protocol, 'static1');
  t.is(bh?.preference, 200);
  t.deepEqual(bh?.via, []);
  const pod = rs.find((r) => r.prefix === '10.217.11.5/32');
  t.is(pod?.protocol, 'kernel1');
  t.deepEqual(pod?.dev, ['calic32e78788da']);
  t.is(pod?.fromPeer, null, 'kernel routes have no BGP peer');
  t.is(rs.find((r) => r.prefix === '0.0.0.0/0')?.fromPeer, null);
});

test('parseBirdRoutes: ECMP, alternative routes without a prefix, inline-via (older 2.0) header', (t) => {
  const rs = parseBirdRoutes(
    [
      'Table master4:',
      '10.217.0.0/26        unicast [rack1 12:00:00.000] * (100) [AS65001i]',
      '\tvia 10.255.0.1 on eth0 weight 1',
      '\tvia 10.255.1.1 on eth1 weight 1',
      '                     unicast [rack2 12:00:01.000 from 10.0.0.9] (100) [AS65002i]',
      '\tvia 10.255.1.1 on eth1',
      '10.217.64.0/26       via 10.255.0.1 on eth0 [rack1 12:00:00] * (100) [AS65001i]',
    ].join('\n'),
  );
  t.is(rs.length, 3);
  t.deepEqual(rs[0]?.via, ['10.255.0.1', '10.255.1.1']);
  t.deepEqual(rs[0]?.dev, ['eth0', 'eth1']);
  t.is(rs[0]?.origin, '[AS65001i]');
  t.is(rs[1]?.prefix, '10.217.0.0/26');
  t.is(rs[1]?.protocol, 'rack2');
  t.false(rs[1]?.primary);
  t.is(rs[1]?.fromPeer, '10.0.0.9');
  t.is(rs[2]?.prefix, '10.217.64.0/26');
  t.deepEqual(rs[2]?.via, ['10.255.0.1']);
  t.deepEqual(rs[2]?.dev, ['eth0']);
  t.is(rs[2]?.fromPeer, '10.255.0.1');
});

test('parseIpRouteJson: node2 kernel table (captured)', (t) => {
  const rs = parseIpRouteJson(
    '[{"dst":"default","gateway":"192.168.64.1","dev":"eth0","flags":[]},{"dst":"10.217.11.0/26","gateway":"192.168.64.57","dev":"eth0","protocol":"bird","flags":[]},{"type":"blackhole","dst":"10.217.120.64/26","protocol":"bird","flags":[]},{"dst":"10.217.120.72","dev":"cali1087c975dd9","scope":"link","flags":[]},{"dst":"192.168.64.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.168.64.58","flags":[]}]',
  );
  t.deepEqual(rs[1], { prefix: '10.217.11.0/26', type: 'unicast', via: ['192.168.64.57'], dev: 'eth0', protocol: 'bird', scope: null });
  t.deepEqual(rs[2], { prefix: '10.217.120.64/26', type: 'blackhole', via: [], dev: null, protocol: 'bird', scope: null });
  t.deepEqual(rs[3], { prefix: '10.217.120.72/32', type: 'unicast', via: [], dev: 'cali1087c975dd9', protocol: null, scope: 'link' });
  t.is(rs[0]?.prefix, 'default');
  t.deepEqual(
    parseIpRouteJson('[{"dst":"10.0.0.0/8","nexthops":[{"gateway":"1.1.1.1","dev":"a"},{"gateway":"2.2.2.2","dev":"b"}]}]')[0]?.via,
    ['1.1.1.1', '2.2.2.2'],
  );
  t.deepEqual(parseIpRouteJson(''), []);
});
