/**
 * Kernel check (root): Calico-over-BGP with a top-of-rack and a core router, all running Debian's bird2
 * in throwaway network namespaces. Routes are learned over real BGP sessions and exported into each
 * router's kernel table by BIRD; the harness writes only what a real cluster's underlay and CNI write
 * (addresses, the nodes' default route, the per-pod /32 to its cali veth).
 *
 * Topology ("AS per rack", Calico's documented ToR design; nodes and ToR share AS 65001, the ToR is a
 * route reflector for the nodes; the core is AS 65000):
 *
 *   pod1 ─ cali… ─ node1 (192.168.64.57, block 10.217.11.0/26)  ┐
 *                                                                ├─ br-rack on tor (192.168.64.1) ─ 10.255.0.0/30 ─ core
 *   pod2 ─ cali… ─ node2 (192.168.64.58, block 10.217.120.64/26) ┘
 *
 * Nothing is created in the root network namespace: veth pairs are created inside one namespace with
 * the peer placed straight into another (`ip -n A link add … peer name … netns B`).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  birdArgv,
  birdcArgv,
  birdConfigForNode,
  birdConfigForRouter,
  calicoNodePeerName,
  isEstablished,
  parseBirdProtocols,
  parseBirdRoutes,
  parseIpRouteJson,
} from '../../lab/families/calico/bgp/index.ts';
import type { BirdProtocol, KernelRoute } from '../../lab/families/calico/bgp/index.ts';

const POLL_MS = 250;
const BUDGET_MS = 30_000;

function run(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv as [string, ...string[]];
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 15_000,
  });
}

function nsx(ns: string, argv: readonly string[], input?: string): string {
  return run(['ip', 'netns', 'exec', ns, ...argv], input);
}

function ipn(ns: string, ...args: string[]): string {
  return run(['ip', '-n', ns, ...args]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Calico's VethNameForWorkload: "cali" + sha1("<ns>.<pod>") hex, first 11 chars. */
function caliName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}

/** `bird --version` prints to stderr; returns stdout+stderr, or null when the binary is missing. */
function birdVersion(): string | null {
  const r = spawnSync('bird', ['--version'], { encoding: 'utf8' });
  if (r.error) return null;
  return `${r.stdout}${r.stderr}`;
}

function which(bin: string): boolean {
  try {
    run(['which', bin]);
    return true;
  } catch {
    return false;
  }
}

/** Fails (never skips) when the environment cannot run the check. */
function preflight(t: ExecutionContext): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.fail('bgp-sessions needs root (network namespaces, bird2). Run as root with the Debian package bird2 installed.');
    return false;
  }
  const version = birdVersion();
  if (version === null || !which('birdc')) {
    t.fail('bird/birdc not found: install the Debian package bird2 (apt-get install bird2)');
    return false;
  }
  if (!/BIRD version 2\./.test(version)) {
    t.fail(`bird is not BIRD 2 (${version.trim() || 'no version output'}): install the Debian package bird2`);
    return false;
  }
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['socat', 'socat'],
  ] as const) {
    if (!which(bin)) {
      t.fail(`${bin} not found: install the Debian package ${pkg}`);
      return false;
    }
  }
  return true;
}

interface BirdInstance {
  readonly ns: string;
  readonly label: string;
  readonly socket: string;
  readonly pidFile: string;
  readonly config: string;
  readonly log: string;
}

function protocols(b: BirdInstance): BirdProtocol[] {
  return parseBirdProtocols(run(['birdc', ...birdcArgv(b.socket, 'show', 'protocols')]));
}

function kernelRoutes(ns: string): KernelRoute[] {
  return parseIpRouteJson(ipn(ns, '-j', 'route', 'show'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops BIRD daemons by the pids in their pid files: SIGTERM to all at once (a BIRD takes ~2 s to shut
 * its BGP sessions down), then SIGKILL whatever is left after 5 s.
 */
async function killBirds(birds: readonly BirdInstance[]): Promise<void> {
  const pids: number[] = [];
  // A BIRD that was just started may not have written its pid file yet.
  const pidDeadline = Date.now() + 1000;
  while (Date.now() < pidDeadline && birds.some((b) => existsSync(b.config) && !existsSync(b.pidFile) && existsSync(b.socket))) {
    await sleep(50);
  }
  for (const b of birds) {
    if (!existsSync(b.pidFile)) continue;
    const pid = Number(readFileSync(b.pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(pid, 'SIGTERM');
      pids.push(pid);
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && pids.some(alive)) await sleep(50);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

test('calico nodes announce pod blocks over BGP to ToR and core (bird2 in netns)', async (t) => {
  if (!preflight(t)) return;

  const id = randomBytes(3).toString('hex');
  const pfx = `dlt-bgp-${id}`;
  const ns = {
    node1: `${pfx}-node1`,
    node2: `${pfx}-node2`,
    tor: `${pfx}-tor`,
    core: `${pfx}-core`,
    pod1: `${pfx}-pod1`,
    pod2: `${pfx}-pod2`,
  };
  const dir = mkdtempSync(join(tmpdir(), `${pfx}-`));
  const created: string[] = [];
  const birds: BirdInstance[] = [];
  const children: ChildProcess[] = [];

  const rackAs = 65001;
  const coreAs = 65000;
  const torIp = '192.168.64.1';
  const node1Ip = '192.168.64.57';
  const node2Ip = '192.168.64.58';
  const torCoreIp = '10.255.0.1';
  const coreIp = '10.255.0.2';
  const pool = '10.217.0.0/16';
  const block1 = '10.217.11.0/26';
  const block2 = '10.217.120.64/26';
  const pod1Ip = '10.217.11.5';
  const pod2Ip = '10.217.120.72';
  const cali1 = caliName('default', 'nginx-demo-1-7f67f8bdd8-aaaaa');
  const cali2 = caliName('default', 'nginx-demo-1-7f67f8bdd8-fxptt');
  const dumpLogs = (): void => {
    for (const b of birds) {
      if (existsSync(b.log)) t.log(`--- ${b.label}.log ---\n${readFileSync(b.log, 'utf8').slice(-3000)}`);
    }
  };
  const timers = { scanTimeSeconds: 1, connectRetrySeconds: 1, errorWaitSeconds: [1, 5] as const };

  try {
    for (const name of Object.values(ns)) {
      run(['ip', 'netns', 'add', name]);
      created.push(name);
      ipn(name, 'link', 'set', 'lo', 'up');
    }

    // ---- underlay: rack bridge on the ToR, node uplinks, ToR ↔ core /30 ---------------------------------
    ipn(ns.tor, 'link', 'add', 'br-rack', 'type', 'bridge');
    ipn(ns.tor, 'addr', 'add', `${torIp}/24`, 'dev', 'br-rack');
    ipn(ns.tor, 'link', 'set', 'br-rack', 'up');
    for (const [node, swp, ip] of [
      [ns.node1, 'swp1', node1Ip],
      [ns.node2, 'swp2', node2Ip],
    ] as const) {
      ipn(ns.tor, 'link', 'add', swp, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node);
      ipn(ns.tor, 'link', 'set', swp, 'master', 'br-rack');
      ipn(ns.tor, 'link', 'set', swp, 'up');
      ipn(node, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      ipn(node, 'link', 'set', 'eth0', 'up');
      ipn(node, 'route', 'add', 'default', 'via', torIp, 'dev', 'eth0');
      nsx(node, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    ipn(ns.tor, 'link', 'add', 'eth-core', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.core);
    ipn(ns.tor, 'addr', 'add', `${torCoreIp}/30`, 'dev', 'eth-core');
    ipn(ns.tor, 'link', 'set', 'eth-core', 'up');
    ipn(ns.core, 'addr', 'add', `${coreIp}/30`, 'dev', 'eth0');
    ipn(ns.core, 'link', 'set', 'eth0', 'up');
    nsx(ns.tor, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    // ---- pods: Calico CNI wiring (cali veth, ee:ee… MAC, proxy ARP, /32 route) ---------------------------
    for (const [node, pod, cali, ip] of [
      [ns.node1, ns.pod1, cali1, pod1Ip],
      [ns.node2, ns.pod2, cali2, pod2Ip],
    ] as const) {
      ipn(node, 'link', 'add', cali, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
      ipn(node, 'link', 'set', cali, 'address', 'ee:ee:ee:ee:ee:ee');
      nsx(node, ['sysctl', '-qw', `net.ipv4.conf.${cali}.proxy_arp=1`]);
      nsx(node, ['sysctl', '-qw', `net.ipv4.neigh.${cali}.proxy_delay=0`]);
      nsx(node, ['sysctl', '-qw', `net.ipv4.conf.${cali}.forwarding=1`]);
      ipn(node, 'link', 'set', cali, 'up');
      ipn(pod, 'addr', 'add', `${ip}/32`, 'dev', 'eth0');
      ipn(pod, 'link', 'set', 'eth0', 'up');
      ipn(pod, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
      ipn(pod, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
      ipn(node, 'route', 'add', `${ip}/32`, 'dev', cali, 'scope', 'link');
    }

    // ---- BIRD configs -----------------------------------------------------------------------------------
    const mk = (label: string, netns: string, config: string): BirdInstance => {
      const b: BirdInstance = {
        ns: netns,
        label,
        socket: join(dir, `${label}.ctl`),
        pidFile: join(dir, `${label}.pid`),
        config: join(dir, `${label}.conf`),
        log: join(dir, `${label}.log`),
      };
      writeFileSync(b.config, config);
      return b;
    };
    const nodeBird = (label: string, netns: string, nodeIp: string, block: string): BirdInstance =>
      mk(
        label,
        netns,
        birdConfigForNode({
          nodeName: label,
          nodeIp,
          localAs: rackAs,
          blocks: [block],
          pools: [pool],
          nodePeers: [{ name: 'tor-rack1', ip: torIp, as: rackAs }],
          timers,
          log: { file: join(dir, `${label}.log`) },
        }),
      );
    birds.push(nodeBird('node1', ns.node1, node1Ip, block1));
    birds.push(nodeBird('node2', ns.node2, node2Ip, block2));
    birds.push(
      mk(
        'tor',
        ns.tor,
        birdConfigForRouter({
          name: 'tor-rack1',
          routerId: torIp,
          localAs: rackAs,
          peers: [
            { name: 'node1', ip: node1Ip, as: rackAs, rrClient: true },
            { name: 'node2', ip: node2Ip, as: rackAs, rrClient: true },
            { name: 'core', ip: coreIp, as: coreAs },
          ],
          timers,
          log: { file: join(dir, 'tor.log') },
        }),
      ),
    );
    birds.push(
      mk(
        'core',
        ns.core,
        birdConfigForRouter({
          name: 'core',
          routerId: coreIp,
          localAs: coreAs,
          peers: [{ name: 'tor_rack1', ip: torCoreIp, as: rackAs }],
          timers,
          log: { file: join(dir, 'core.log') },
        }),
      ),
    );
    const [b1, b2, btor, bcore] = birds as [BirdInstance, BirdInstance, BirdInstance, BirdInstance];

    // ---- start BIRD in each namespace, wait for Established ----------------------------------------------
    const t0 = performance.now();
    for (const b of birds) {
      nsx(b.ns, ['bird', ...birdArgv({ configPath: b.config, socketPath: b.socket, pidFile: b.pidFile })]);
    }
    const expected: Record<string, string[]> = {
      node1: [calicoNodePeerName(torIp)],
      node2: [calicoNodePeerName(torIp)],
      tor: ['node1', 'node2', 'core'],
      core: ['tor_rack1'],
    };
    let lastSeen = '';
    let established = false;
    while (performance.now() - t0 < BUDGET_MS) {
      let all = true;
      const seen: string[] = [];
      for (const b of birds) {
        let ps: BirdProtocol[] = [];
        try {
          ps = protocols(b);
        } catch {
          all = false; // socket not there yet
          seen.push(`${b.label}: (no socket)`);
          continue;
        }
        for (const name of expected[b.label]!) {
          const p = ps.find((x) => x.name === name);
          seen.push(`${b.label}/${name}: ${p ? `${p.state} ${p.info}` : 'missing'}`);
          if (!p || !isEstablished(p)) all = false;
        }
      }
      lastSeen = seen.join('; ');
      if (all) {
        established = true;
        break;
      }
      await sleep(POLL_MS);
    }
    const establishedMs = performance.now() - t0;
    if (!established) {
      dumpLogs();
      t.fail(`BGP sessions not Established within ${BUDGET_MS} ms: ${lastSeen}`);
      return;
    }
    t.log(`all BGP sessions Established after ${establishedMs.toFixed(0)} ms`);

    // ---- wait for the routes to reach the kernel tables (exported by BIRD, never written by us) ----------
    const hasRoute = (routes: KernelRoute[], prefix: string, via: string): boolean =>
      routes.some((r) => r.prefix === prefix && r.via.includes(via) && r.protocol === 'bird');
    const wants: Array<[string, string, string]> = [
      [ns.tor, block1, node1Ip],
      [ns.tor, block2, node2Ip],
      [ns.core, block1, torCoreIp],
      [ns.core, block2, torCoreIp],
      [ns.node1, block2, node2Ip],
      [ns.node2, block1, node1Ip],
    ];
    let missing = wants;
    while (performance.now() - t0 < BUDGET_MS) {
      missing = wants.filter(([n, p, v]) => !hasRoute(kernelRoutes(n), p, v));
      if (missing.length === 0) break;
      await sleep(POLL_MS);
    }
    const routesMs = performance.now() - t0;
    t.deepEqual(
      missing.map(([n, p, v]) => `${n}: ${p} via ${v}`),
      [],
      'kernel routes exported by BIRD',
    );
    t.log(`kernel tables converged after ${routesMs.toFixed(0)} ms`);

    // ---- ToR: learned each block from its node over BGP, node is the next hop, no /32 leaked -------------
    const torBird = parseBirdRoutes(run(['birdc', ...birdcArgv(btor.socket, 'show', 'route', 'all')]));
    for (const [block, nodeIp, proto] of [
      [block1, node1Ip, 'node1'],
      [block2, node2Ip, 'node2'],
    ] as const) {
      const r = torBird.find((x) => x.prefix === block && x.primary);
      t.truthy(r, `ToR BIRD has ${block}`);
      t.is(r?.protocol, proto);
      t.deepEqual(r?.via, [nodeIp]);
      t.is(r?.fromPeer, nodeIp);
      t.is(r?.attrs['BGP.next_hop'], nodeIp);
    }
    t.false(torBird.some((r) => r.prefix.endsWith('/32')), 'no /32 in the ToR BIRD table');
    const torKernel = kernelRoutes(ns.tor);
    t.false(
      torKernel.some((r) => r.prefix === `${pod1Ip}/32` || r.prefix === `${pod2Ip}/32`),
      'pod /32s are not advertised (calico_aggr rejects them)',
    );
    t.is(torKernel.find((r) => r.prefix === block2)?.dev, 'br-rack');

    // ---- core: learned both blocks via the ToR ------------------------------------------------------------
    const coreBird = parseBirdRoutes(run(['birdc', ...birdcArgv(bcore.socket, 'show', 'route')]));
    for (const block of [block1, block2]) {
      const r = coreBird.find((x) => x.prefix === block);
      t.is(r?.protocol, 'tor_rack1', `core learned ${block} from the ToR`);
      t.is(r?.fromPeer, torCoreIp);
    }

    // ---- node1 (worker A): node2's block reflected by the ToR, next hop kept (same subnet) --------------
    const n1Bird = parseBirdRoutes(run(['birdc', ...birdcArgv(b1.socket, 'show', 'route')]));
    const reflected = n1Bird.find((r) => r.prefix === block2);
    t.is(reflected?.protocol, calicoNodePeerName(torIp));
    t.is(reflected?.fromPeer, torIp);
    t.deepEqual(reflected?.via, [node2Ip]);

    // ---- node2 (worker B): blackhole for its own block, /32 to the cali veth, cali ↔ pod eth0 pairing -----
    const n2 = kernelRoutes(ns.node2);
    t.truthy(
      n2.find((r) => r.prefix === block2 && r.type === 'blackhole' && r.protocol === 'bird'),
      'blackhole <block> proto bird on worker B',
    );
    t.truthy(n2.find((r) => r.prefix === `${pod2Ip}/32` && r.dev === cali2 && r.scope === 'link'),
      `${pod2Ip} dev ${cali2} scope link on worker B`,
    );
    const caliLink = JSON.parse(ipn(ns.node2, '-j', 'link', 'show', 'dev', cali2)) as Array<{ ifindex: number; link_index?: number }>;
    const podEth0 = JSON.parse(ipn(ns.pod2, '-j', 'link', 'show', 'dev', 'eth0')) as Array<{ ifindex: number; link_index?: number }>;
    t.is(podEth0[0]?.link_index, caliLink[0]?.ifindex, `pod eth0 is eth0@if${caliLink[0]?.ifindex} (peer of ${cali2})`);
    t.is(caliLink[0]?.link_index, podEth0[0]?.ifindex);
    const n2Protos = protocols(b2);
    t.true(n2Protos.some((p) => p.name === calicoNodePeerName(torIp) && isEstablished(p)));
    t.truthy(protocols(b1).find((p) => p.proto === 'Kernel' && p.state === 'up'));

    // ---- data plane: client in the core namespace reaches each pod (TCP echo via socat) -------------------
    for (const [pod, ip] of [
      [ns.pod1, pod1Ip],
      [ns.pod2, pod2Ip],
    ] as const) {
      const child = spawn('ip', ['netns', 'exec', pod, 'socat', 'TCP-LISTEN:80,reuseaddr,fork', 'EXEC:/bin/cat'], {
        stdio: 'ignore',
      });
      children.push(child);
      let reply = '';
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        try {
          reply = nsx(ns.core, ['socat', '-T2', '-', `TCP:${ip}:80,connect-timeout=2`], `hello ${ip}\n`);
          if (reply.trim() !== '') break;
        } catch {
          // listener not up yet
        }
        await sleep(POLL_MS);
      }
      t.is(reply.trim(), `hello ${ip}`, `core → ${ip}:80 answered through ToR and node`);
    }
    t.log(`ToR birdc show protocols:\n${run(['birdc', ...birdcArgv(btor.socket, 'show', 'protocols')])}`);
    t.log(`ToR birdc show route all:\n${run(['birdc', ...birdcArgv(btor.socket, 'show', 'route', 'all')])}`);
    t.log(`node1 birdc show route:\n${run(['birdc', ...birdcArgv(b1.socket, 'show', 'route')])}`);
    for (const n of [ns.tor, ns.core, ns.node2]) t.log(`ip route (${n}):\n${ipn(n, 'route', 'show')}`);
    t.log(`timings: established ${establishedMs.toFixed(0)} ms, kernel routes ${routesMs.toFixed(0)} ms`);
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    for (const c of children) {
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
    }
    await killBirds(birds);
    for (const name of created.reverse()) {
      try {
        run(['ip', 'netns', 'del', name]);
      } catch (e) {
        t.log(`could not delete netns ${name}: ${String(e)}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
