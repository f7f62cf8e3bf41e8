/**
 * Calico-over-BGP control plane as pure BIRD 2 config generation, plus parsers for `birdc` output.
 *
 * Nothing in this module touches the system: every function takes plain data and returns text or data.
 * No path is hard-coded; the control socket, pid file and log file come from the caller
 * (see {@link birdArgv} / {@link birdcArgv}).
 *
 * Node config: a BIRD 2 rendering of Calico's confd templates (`bird.cfg.template`,
 * `bird_aggr.cfg.template`, `bird_ipam.cfg.template`; see docs in notes/domain.md §4.3). Calico ships its
 * own BIRD 1.6 fork, so the rendering differs from Calico's output where BIRD 2 syntax demands it:
 *   - channel options (`import`, `export`, `gateway recursive`, `add paths`) live in an `ipv4 { … }` block;
 *   - `krt_tunnel` (a Calico BIRD fork attribute) does not exist in BIRD 2, so IPIP pools are rejected
 *     by the generator; pools without encapsulation and VXLAN pools are supported;
 *   - protocol kernel gets `metric 0` (BIRD 1.6's default, so routes print as `proto bird` without a
 *     metric as on real Calico nodes; BIRD 2 defaults to 32), and calico_kernel_programming first rejects
 *     `RTS_DEVICE` routes (otherwise connected routes collide with the kernel's own: "Netlink: File exists"
 *     every scan);
 *   - `protocol bfd` is not rendered (no `bfd graceful` on peers either);
 *   - the three confd files are emitted as one text with `# ---- bird_*.cfg ----` section markers
 *     instead of `include` statements (an include would need a path).
 * What is kept verbatim: protocol names (`Node_<ip>`, `Global_<ip>`, `Mesh_<ip>`, `_port_<n>`),
 * `protocol static` blackhole per non-/32 block, `calico_aggr()` (accept `net = block`, reject `net ~ block`),
 * `calico_export_to_bgp_peers(<same AS>)` + `reject` as the per-peer export filter, `protocol kernel`
 * (learn, persist, scan time, import all, export filter calico_kernel_programming, graceful restart,
 * merge paths on), `protocol direct` excluding cali* and kube-ipvs*, and the template timers
 * (connect delay 1, connect retry 3, error wait 5,60), which the caller may shorten.
 */

// ---------------------------------------------------------------------------------------------------
// Input types

/** Where BIRD logs. `file` → `log "<file>" <classes>;`. Omitted → no `log` statement at all. */
export interface BirdLog {
  readonly file?: string;
  readonly syslog?: boolean;
  readonly stderr?: boolean;
  /** `all` (default) or a list of BIRD log classes (info, warning, error, fatal, trace, debug, remote, auth, bug). */
  readonly classes?: 'all' | readonly string[];
}

/** BGP timers; defaults are Calico's template values. */
export interface BgpTimers {
  /** `scan time` of protocol device and protocol kernel (Calico: 2). */
  readonly scanTimeSeconds?: number;
  /** `connect delay time` (Calico: 1). */
  readonly connectDelaySeconds?: number;
  /** `connect retry time` (Calico: 3). */
  readonly connectRetrySeconds?: number;
  /** `error wait time <min>,<max>` (Calico: 5,60). */
  readonly errorWaitSeconds?: readonly [number, number];
}

/** One BGP neighbour. */
export interface BgpPeer {
  /** Free-form label (router configs use it for the protocol name; node configs use Calico's naming). */
  readonly name?: string;
  readonly ip: string;
  readonly as: number;
  readonly port?: number;
  /** Calico `keep_next_hop` (only rendered for eBGP peers, as Calico does). */
  readonly keepNextHop?: boolean;
  /** Calico `password`. */
  readonly password?: string;
  /** Calico `restart_time` → `graceful restart time <n>`. */
  readonly restartTimeSeconds?: number;
  /** Calico `source_addr: UseNodeIP` → `source address <nodeIp>`. Default true. */
  readonly useNodeIpAsSource?: boolean;
}

/** A Calico IPPool as far as BIRD cares. */
export interface IpPool {
  readonly cidr: string;
  /** `none` (default) or `vxlan` (Felix owns the routes, kernel programming rejects them). IPIP is unsupported in BIRD 2. */
  readonly encapsulation?: 'none' | 'vxlan';
  readonly disableBGPExport?: boolean;
}

/** An IPAM block affine to this node (`/ipam/v2/host/<node>/ipv4/block/<cidr>`). */
export interface IpamBlock {
  readonly cidr: string;
  /** Block affinity state; only `confirmed` (default) blocks are aggregated, as in `bird_aggr.cfg.template`. */
  readonly state?: 'confirmed' | 'pending' | 'pendingDeletion';
}

export interface CalicoNodeBirdInput {
  readonly nodeName: string;
  /** Node IPv4 (`/host/<node>/ip_addr_v4`): router id (unless `routerId`) and BGP source address. */
  readonly nodeIp: string;
  readonly routerId?: string;
  /** Node AS (`/host/<node>/as_num` or `/global/as_num`). */
  readonly localAs: number;
  /** Local pod blocks; plain strings are confirmed blocks. /32 blocks get no blackhole (Calico skips them). */
  readonly blocks: readonly (string | IpamBlock)[];
  readonly pools: readonly (string | IpPool)[];
  /** Node-specific BGPPeers (the ToR pattern) → `protocol bgp Node_<ip>`. */
  readonly nodePeers?: readonly BgpPeer[];
  /** Global BGPPeers → `protocol bgp Global_<ip>`. */
  readonly globalPeers?: readonly BgpPeer[];
  /** Full mesh peers (other nodes) → `protocol bgp Mesh_<ip>`; omitted/empty renders "Node-to-node mesh disabled". */
  readonly meshPeers?: readonly BgpPeer[];
  /** `listen bgp port`. */
  readonly listenPort?: number;
  readonly timers?: BgpTimers;
  /**
   * `metric` of protocol kernel. Default 0: Calico runs a BIRD 1.6 fork whose default kernel metric is 0,
   * so its routes show as `… proto bird` with no metric; BIRD 2's own default is 32.
   */
  readonly kernelMetric?: number;
  readonly log?: BirdLog;
  /** Protocol debug: Calico renders `debug { states }` unless logging is `debug` (→ `debug all`) or `none`. */
  readonly debug?: 'states' | 'all' | 'none';
}

/** A peer of a plain (non-Calico) BGP router such as a ToR or core switch. */
export interface RouterPeer extends BgpPeer {
  /** Treat this iBGP neighbour as a route-reflector client (the ToR in Calico's "AS per rack" design). */
  readonly rrClient?: boolean;
  readonly description?: string;
}

export interface RouterBirdInput {
  /** Label used in comments (e.g. `tor-rack1`, `core`). */
  readonly name: string;
  readonly routerId: string;
  readonly localAs: number;
  readonly peers: readonly RouterPeer[];
  /** Install BGP-learned routes into the kernel table (default true). */
  readonly exportToKernel?: boolean;
  /** Extra prefixes originated by this router as blackhole statics (e.g. an aggregate); default none. */
  readonly originate?: readonly string[];
  /**
   * Connected subnets announced as they are (`redistribute connected`, e.g. a ToR's rack segment);
   * default none. A blackhole `originate` of the same prefix would never be exported: the direct
   * route wins (preference 240 over the static's 200) and only the best route is exported.
   */
  readonly announceConnected?: readonly string[];
  readonly timers?: BgpTimers;
  /** `metric` of protocol kernel (default 0, like the nodes, so routes print as `… proto bird`). */
  readonly kernelMetric?: number;
  readonly log?: BirdLog;
  readonly debug?: 'states' | 'all' | 'none';
}

/** How to run one BIRD instance; every path comes from the caller. */
export interface BirdRuntime {
  readonly configPath: string;
  readonly socketPath: string;
  readonly pidFile: string;
  /** Run in the foreground (`-f`); default false (BIRD daemonizes and writes the pid file). */
  readonly foreground?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Parsed output types

export interface BirdProtocol {
  readonly name: string;
  /** `BGP`, `Kernel`, `Device`, `Direct`, `Static`, … */
  readonly proto: string;
  /** `master4`, or `---` for protocols without a single table. */
  readonly table: string;
  /** `up`, `down`, `start`, `flush`, … */
  readonly state: string;
  /** Raw `Since` column (one or two tokens, depends on `timeformat protocol`). */
  readonly since: string;
  /** Rest of the line, e.g. `Established`, `Active        Socket: Connection refused`, `Connect`. */
  readonly info: string;
}

export interface BirdRoute {
  readonly prefix: string;
  /** `unicast`, `blackhole`, `unreachable`, `prohibit`. */
  readonly kind: string;
  /** BIRD protocol that supplied the route, e.g. `Node_192_168_64_1`, `static1`, `kernel1`. */
  readonly protocol: string;
  /** Next-hop gateways (empty for device and blackhole routes; several for ECMP). */
  readonly via: readonly string[];
  /** Interfaces (`on <if>` of via lines, or `dev <if>` lines). */
  readonly dev: readonly string[];
  /**
   * Address of the BGP neighbour the route came from: the `from` in the route header when BIRD prints it
   * (it does so only when it differs from the gateway), otherwise the gateway of a BGP route, otherwise null.
   */
  readonly fromPeer: string | null;
  /** `*` in the header: the route is the best one for its prefix. */
  readonly primary: boolean;
  readonly preference: number | null;
  /** `[i]`, `[AS65001i]`, … for BGP routes; null otherwise. */
  readonly origin: string | null;
  /** Attribute lines of `show route all` (`BGP.as_path` → `65001`, …); empty for plain `show route`. */
  readonly attrs: Readonly<Record<string, string>>;
}

/** A route as printed by `ip -j route show`, reduced to what the lab asserts on. */
export interface KernelRoute {
  readonly prefix: string;
  readonly type: string;
  readonly via: readonly string[];
  readonly dev: string | null;
  readonly protocol: string | null;
  readonly scope: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Validation helpers

const CALICO_DEFAULT_TIMERS = {
  scanTimeSeconds: 2,
  connectDelaySeconds: 1,
  connectRetrySeconds: 3,
  errorWaitSeconds: [5, 60] as const,
};

function ipv4ToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) {
      throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
    }
    n = n * 256 + octet;
  }
  return n;
}

function assertIpv4(ip: string): string {
  ipv4ToInt(ip);
  return ip;
}

/** Validates an IPv4 CIDR and that it has no host bits set. Returns it unchanged. */
export function assertCidr(cidr: string): string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
  const len = Number(m[2]);
  if (len > 32) throw new Error(`prefix length out of range: ${cidr}`);
  const addr = ipv4ToInt(m[1]!);
  if (addr % 2 ** (32 - len) !== 0) throw new Error(`CIDR has host bits set: ${cidr}`);
  return cidr;
}

/** True when `ip` (a.b.c.d) lies within `cidr`. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [net, lenText] = assertCidr(cidr).split('/') as [string, string];
  const len = Number(lenText);
  const size = 2 ** (32 - len);
  const base = ipv4ToInt(net);
  const n = ipv4ToInt(ip);
  return n >= base && n < base + size;
}

function assertAs(as: number): number {
  if (!Number.isInteger(as) || as < 1 || as > 4294967295) throw new Error(`invalid AS number: ${as}`);
  return as;
}

function assertNonNegInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

function assertPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid TCP port: ${port}`);
  return port;
}

/** A BIRD string literal. Rejects characters that could end the literal or the statement. */
function birdString(s: string): string {
  if (/["\\\n\r]/.test(s)) throw new Error(`value not allowed in a BIRD string: ${JSON.stringify(s)}`);
  return `"${s}"`;
}

/** Turns a label into a BIRD symbol (letters, digits, underscores; must not start with a digit). */
export function birdSymbol(label: string): string {
  let s = label.replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(s)) s = `p_${s}`;
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Naming (Calico's conventions)

/** `192.168.64.1` → `192_168_64_1`, plus `_port_<n>` when a port is set (Calico's `$id`). */
export function calicoPeerId(ip: string, port?: number): string {
  const id = assertIpv4(ip).split('.').join('_');
  return port === undefined ? id : `${id}_port_${assertPort(port)}`;
}

/** Protocol name Calico gives a node-specific BGPPeer: `Node_<ip with _>[_port_<n>]`. */
export function calicoNodePeerName(ip: string, port?: number): string {
  return `Node_${calicoPeerId(ip, port)}`;
}

/** Protocol name Calico gives a global BGPPeer: `Global_<ip with _>[_port_<n>]`. */
export function calicoGlobalPeerName(ip: string, port?: number): string {
  return `Global_${calicoPeerId(ip, port)}`;
}

/** Protocol name Calico gives a full-mesh peer: `Mesh_<ip with _>` (no port suffix). */
export function calicoMeshPeerName(ip: string): string {
  return `Mesh_${calicoPeerId(ip)}`;
}

/** Protocol name used in router configs: the peer's `name` as a BIRD symbol, else `Peer_<ip with _>`. */
export function routerPeerName(peer: BgpPeer): string {
  return peer.name ? birdSymbol(peer.name) : `Peer_${calicoPeerId(peer.ip, peer.port)}`;
}

// ---------------------------------------------------------------------------------------------------
// Shared rendering

function renderLog(log: BirdLog | undefined): string[] {
  if (!log) return [];
  const classes =
    log.classes === undefined || log.classes === 'all'
      ? 'all'
      : `{ ${log.classes.map((c) => {
          if (!/^[a-z]+$/.test(c)) throw new Error(`invalid BIRD log class: ${c}`);
          return c;
        }).join(', ')} }`;
  const out: string[] = [];
  if (log.file !== undefined) out.push(`log ${birdString(log.file)} ${classes};`);
  if (log.syslog) out.push(`log syslog ${classes};`);
  if (log.stderr) out.push(`log stderr ${classes};`);
  return out;
}

function renderDebug(debug: 'states' | 'all' | 'none' | undefined, indent: string): string[] {
  switch (debug ?? 'states') {
    case 'all':
      return [`${indent}debug all;`];
    case 'none':
      return [];
    default:
      return [`${indent}debug { states };`];
  }
}

function timersOf(t: BgpTimers | undefined): {
  scan: number;
  delay: number;
  retry: number;
  errorWait: readonly [number, number];
} {
  const scan = assertNonNegInt(t?.scanTimeSeconds ?? CALICO_DEFAULT_TIMERS.scanTimeSeconds, 'scan time');
  if (scan < 1) throw new Error('scan time must be at least 1 second');
  const delay = assertNonNegInt(t?.connectDelaySeconds ?? CALICO_DEFAULT_TIMERS.connectDelaySeconds, 'connect delay');
  const retry = assertNonNegInt(t?.connectRetrySeconds ?? CALICO_DEFAULT_TIMERS.connectRetrySeconds, 'connect retry');
  if (retry < 1) throw new Error('connect retry time must be at least 1 second');
  const errorWait = t?.errorWaitSeconds ?? CALICO_DEFAULT_TIMERS.errorWaitSeconds;
  assertNonNegInt(errorWait[0], 'error wait min');
  assertNonNegInt(errorWait[1], 'error wait max');
  if (errorWait[0] > errorWait[1]) throw new Error('error wait min must not exceed max');
  return { scan, delay, retry, errorWait };
}

function normPool(p: string | IpPool): IpPool {
  const pool = typeof p === 'string' ? { cidr: p } : p;
  assertCidr(pool.cidr);
  const enc: string = pool.encapsulation ?? 'none';
  if (enc !== 'none' && enc !== 'vxlan') {
    throw new Error(`pool ${pool.cidr}: encapsulation ${enc} is not supported with BIRD 2 (no krt_tunnel attribute)`);
  }
  return pool;
}

function normBlock(b: string | IpamBlock): IpamBlock {
  const block = typeof b === 'string' ? { cidr: b } : b;
  assertCidr(block.cidr);
  return block;
}

// ---------------------------------------------------------------------------------------------------
// Node (Calico) config

/**
 * BIRD 2 config for a Calico node, rendered the way Calico's confd templates render `bird.cfg`,
 * `bird_aggr.cfg` and `bird_ipam.cfg` (see module comment for the BIRD 1.6 → 2 differences).
 */
export function birdConfigForNode(input: CalicoNodeBirdInput): string {
  const nodeIp = assertIpv4(input.nodeIp);
  const routerId = assertIpv4(input.routerId ?? nodeIp);
  const localAs = assertAs(input.localAs);
  const timers = timersOf(input.timers);
  const kernelMetric = assertNonNegInt(input.kernelMetric ?? 0, 'kernel metric');
  const blocks = input.blocks.map(normBlock);
  const pools = input.pools.map(normPool);
  if (pools.length === 0) throw new Error('at least one IP pool is required');
  for (const b of blocks) {
    const [net] = b.cidr.split('/') as [string];
    if (!pools.some((p) => ipInCidr(net, p.cidr))) {
      throw new Error(`block ${b.cidr} lies outside every pool (${pools.map((p) => p.cidr).join(', ')})`);
    }
  }
  if (input.listenPort !== undefined) assertPort(input.listenPort);
  if (/[\n\r]/.test(input.nodeName)) throw new Error('node name must be a single line');

  const L: string[] = [];
  L.push(`# Generated by datapath-lab (lab/fabric/bgp.ts) for node ${input.nodeName}.`);
  L.push('# BIRD 2 rendering of Calico confd bird.cfg + bird_aggr.cfg + bird_ipam.cfg.');
  L.push(...renderLog(input.log));
  L.push('');

  // ---- bird_aggr.cfg -------------------------------------------------------------------------
  L.push('# ---- bird_aggr.cfg ----');
  const blackholes = blocks.filter((b) => !b.cidr.endsWith('/32'));
  if (blackholes.length > 0) {
    L.push('protocol static {');
    L.push('   ipv4;');
    L.push('   # IP blocks for this host.');
    for (const b of blackholes) L.push(`   route ${b.cidr} blackhole;`);
    L.push('}');
  } else {
    L.push('# No IP blocks or static routes for this host.');
  }
  L.push('');
  L.push('# Aggregation of routes on this host; export the block, nothing beneath it.');
  L.push('function calico_aggr ()');
  L.push('{');
  for (const b of blocks) {
    const state = b.state ?? 'confirmed';
    L.push(`      # Block ${b.cidr} is ${state}`);
    if (state === 'confirmed') {
      L.push(`      if ( net = ${b.cidr} ) then { accept; }`);
      L.push(`      if ( net ~ ${b.cidr} ) then { reject; }`);
    }
  }
  L.push('}');
  L.push('');

  // ---- bird_ipam.cfg -------------------------------------------------------------------------
  L.push('# ---- bird_ipam.cfg ----');
  L.push('function reject_disabled_pools ()');
  L.push('{');
  for (const p of pools) if (p.disableBGPExport) L.push(`  if ( net ~ ${p.cidr} ) then { reject; }`);
  L.push('}');
  L.push('');
  L.push('function reject_tunnel_routes ()');
  L.push('{');
  L.push("  # Don't export tunnel routes to other nodes, Felix programs them.");
  L.push('  if (defined(ifname)) then {');
  L.push('     if ((ifname ~ "*.cali") || (ifname ~ "*.calico")) then {');
  L.push('        reject;');
  L.push('     }');
  L.push('  }');
  L.push('}');
  L.push('');
  L.push('function apply_communities ()');
  L.push('{');
  L.push('}');
  L.push('');
  L.push('function calico_export_to_bgp_peers(bool internal_peer)');
  L.push('{');
  L.push('  reject_disabled_pools();');
  L.push('  if (internal_peer) then {');
  L.push('    reject_tunnel_routes();');
  L.push('  }');
  L.push('  apply_communities();');
  L.push('  calico_aggr();');
  for (const p of pools) {
    if (p.disableBGPExport) {
      L.push(`  # Skip ${p.cidr} as BGP export is disabled for it`);
    } else {
      L.push(`  if ( net ~ ${p.cidr} ) then {`);
      L.push('    accept;');
      L.push('  }');
    }
  }
  L.push('}');
  L.push('');
  L.push('filter calico_kernel_programming {');
  L.push('  # BIRD 2 adaptation: never re-install connected routes; with metric 0 they collide with the');
  L.push("  # kernel's own route and BIRD logs \"Netlink: File exists\" on every scan.");
  L.push('  if ( source = RTS_DEVICE ) then { reject; }');
  for (const p of pools) {
    L.push(`  if ( net ~ ${p.cidr} ) then {`);
    if (p.encapsulation === 'vxlan') {
      L.push("    # Don't program VXLAN routes into the kernel - these are handled by Felix.");
      L.push('    reject;');
    } else {
      L.push('    # No encapsulation: krt_tunnel = "" in Calico (attribute absent in BIRD 2).');
      L.push('    accept;');
    }
    L.push('  }');
  }
  L.push('  accept;');
  L.push('}');
  L.push('');

  // ---- bird.cfg ------------------------------------------------------------------------------
  L.push('# ---- bird.cfg ----');
  L.push(`router id ${routerId};`);
  if (input.listenPort !== undefined) {
    L.push('# Set node listen_port');
    L.push(`listen bgp port ${input.listenPort};`);
  }
  L.push('');
  L.push('# Configure synchronization between routing tables and kernel.');
  L.push('protocol kernel {');
  L.push('  learn;             # Learn all alien routes from the kernel');
  L.push("  persist;           # Don't remove routes on bird shutdown");
  L.push(`  scan time ${timers.scan};       # Scan kernel routing table every ${timers.scan} s (Calico: 2)`);
  L.push(`  metric ${kernelMetric};          # BIRD 1.6 default (Calico's fork); BIRD 2 would use 32`);
  L.push('  ipv4 {');
  L.push('    import all;');
  L.push('    export filter calico_kernel_programming; # Default is export none');
  L.push('  };');
  L.push('  graceful restart;  # Turn on graceful restart to reduce potential flaps in routes.');
  L.push('  merge paths on;    # Allow export multipath routes (ECMP)');
  L.push('}');
  L.push('');
  L.push('# Watch interface up/down events.');
  L.push('protocol device {');
  L.push(`  scan time ${timers.scan};    # Scan interfaces every ${timers.scan} s (Calico: 2)`);
  L.push('}');
  L.push('');
  L.push('protocol direct {');
  L.push(...renderDebug(input.debug, '  '));
  L.push('  ipv4;');
  L.push('  interface -"cali*", -"kube-ipvs*", "*"; # Exclude cali* and kube-ipvs* but include everything else.');
  L.push('}');
  L.push('');
  L.push('# Template for all BGP clients');
  L.push('template bgp bgp_template {');
  L.push(...renderDebug(input.debug, '  '));
  L.push('  description "Connection to BGP peer";');
  L.push(`  local as ${localAs};`);
  L.push('  multihop;');
  L.push('  ipv4 {');
  L.push('    gateway recursive; # This should be the default, but just in case.');
  L.push('    import all;');
  L.push('    add paths on;');
  L.push('  };');
  L.push('  graceful restart;  # See comment in kernel section about graceful restart.');
  L.push(`  connect delay time ${timers.delay};`);
  L.push(`  connect retry time ${timers.retry};`);
  L.push(`  error wait time ${timers.errorWait[0]},${timers.errorWait[1]};`);
  L.push('}');
  L.push('');

  const names = new Set<string>();
  const peerBlock = (name: string, peer: BgpPeer, extra: string[]): void => {
    if (names.has(name)) throw new Error(`duplicate BGP protocol ${name}`);
    names.add(name);
    const peerAs = assertAs(peer.as);
    const sameAs = peerAs === localAs;
    const portPart = peer.port !== undefined ? `port ${assertPort(peer.port)} ` : '';
    L.push(`protocol bgp ${name} from bgp_template {`);
    L.push(`  neighbor ${assertIpv4(peer.ip)} ${portPart}as ${peerAs};`);
    if (peer.useNodeIpAsSource ?? true) {
      L.push(`  source address ${nodeIp};  # The local address we use for the TCP connection`);
    }
    L.push(...extra);
    if (peer.restartTimeSeconds !== undefined) {
      L.push(`  graceful restart time ${assertNonNegInt(peer.restartTimeSeconds, 'restart time')};`);
    }
    if (peer.password !== undefined) L.push(`  password ${birdString(peer.password)};`);
    L.push('  ipv4 {');
    L.push('    import all;');
    if (!sameAs && peer.keepNextHop) L.push('    next hop keep;');
    L.push('    export filter {');
    L.push(`      calico_export_to_bgp_peers(${sameAs ? 'true' : 'false'});`);
    L.push('      reject;');
    L.push('    };');
    L.push('  };');
    L.push('}');
  };

  L.push('# ------------- Node-to-node mesh -------------');
  if (input.meshPeers && input.meshPeers.length > 0) {
    for (const peer of input.meshPeers) {
      if (peer.ip === nodeIp) {
        L.push(`# Skipping ourselves (${nodeIp})`);
        continue;
      }
      L.push(`# For peer ${peer.name ?? peer.ip}`);
      const passive =
        ipv4ToInt(peer.ip) > ipv4ToInt(nodeIp) ? ['  passive on; # Mesh is unidirectional, peer will connect to us.'] : [];
      // Mesh peers never carry a port in the name, and Calico always uses the node IP as source.
      peerBlock(calicoMeshPeerName(peer.ip), { ...peer, useNodeIpAsSource: true }, passive);
    }
  } else {
    L.push('# Node-to-node mesh disabled');
  }
  L.push('');

  L.push('# ------------- Global peers -------------');
  if (input.globalPeers && input.globalPeers.length > 0) {
    for (const peer of input.globalPeers) {
      L.push(`# For peer ${peer.name ?? peer.ip}`);
      if (peer.ip === nodeIp) {
        L.push(`# Skipping ourselves (${nodeIp})`);
        continue;
      }
      peerBlock(calicoGlobalPeerName(peer.ip, peer.port), peer, []);
    }
  } else {
    L.push('# No global peers configured.');
  }
  L.push('');

  L.push('# ------------- Node-specific peers -------------');
  if (input.nodePeers && input.nodePeers.length > 0) {
    for (const peer of input.nodePeers) {
      L.push(`# For peer ${peer.name ?? peer.ip}`);
      if (peer.ip === nodeIp) {
        L.push(`# Skipping ourselves (${nodeIp})`);
        continue;
      }
      peerBlock(calicoNodePeerName(peer.ip, peer.port), peer, []);
    }
  } else {
    L.push('# No node-specific peers configured.');
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Router (ToR / core) config

/**
 * BIRD 2 config for a plain BGP router (ToR or core switch): learns routes from its neighbours,
 * re-advertises BGP-learned routes (plus `originate` prefixes) to all neighbours, and installs
 * BGP-learned routes in its kernel table. iBGP neighbours marked `rrClient` are route-reflector clients
 * (Calico "AS per rack": the nodes share the ToR's AS and the ToR reflects between them).
 */
export function birdConfigForRouter(input: RouterBirdInput): string {
  const routerId = assertIpv4(input.routerId);
  const localAs = assertAs(input.localAs);
  const timers = timersOf(input.timers);
  const originate = (input.originate ?? []).map(assertCidr);
  const connected = (input.announceConnected ?? []).map(assertCidr);
  const kernelMetric = assertNonNegInt(input.kernelMetric ?? 0, 'kernel metric');
  if (/[\n\r]/.test(input.name)) throw new Error('router name must be a single line');

  const L: string[] = [];
  L.push(`# Generated by datapath-lab (lab/fabric/bgp.ts) for router ${input.name} (AS ${localAs}).`);
  L.push(...renderLog(input.log));
  L.push(`router id ${routerId};`);
  L.push('');
  L.push('protocol device {');
  L.push(`  scan time ${timers.scan};`);
  L.push('}');
  L.push('');
  L.push('# Connected networks, so that recursive next hops resolve.');
  L.push('protocol direct {');
  L.push('  ipv4;');
  L.push('  interface "*";');
  L.push('}');
  L.push('');
  L.push('protocol kernel {');
  L.push(`  scan time ${timers.scan};`);
  L.push(`  metric ${kernelMetric};`);
  L.push('  ipv4 {');
  L.push('    import none;');
  if (input.exportToKernel ?? true) {
    L.push('    # Install BGP-learned routes only (connected routes are already in the kernel).');
    L.push('    export filter { if source = RTS_BGP then accept; reject; };');
  } else {
    L.push('    export none;');
  }
  L.push('  };');
  L.push('  merge paths on;');
  L.push('}');
  L.push('');
  if (originate.length > 0) {
    L.push('protocol static fabric_originate {');
    L.push('  ipv4;');
    for (const p of originate) L.push(`  route ${p} blackhole;`);
    L.push('}');
    L.push('');
  }
  let exportCond = originate.length > 0 ? 'source = RTS_BGP || proto = "fabric_originate"' : 'source = RTS_BGP';
  if (connected.length > 0) exportCond += ` || (source = RTS_DEVICE && net ~ [ ${connected.join(', ')} ])`;
  L.push('filter fabric_export {');
  L.push(`  if ${exportCond} then accept;`);
  L.push('  reject;');
  L.push('}');
  L.push('');
  L.push('template bgp fabric_peer {');
  L.push(...renderDebug(input.debug, '  '));
  L.push(`  local as ${localAs};`);
  L.push('  ipv4 {');
  L.push('    import all;');
  L.push('    export filter fabric_export;');
  L.push('  };');
  L.push(`  connect delay time ${timers.delay};`);
  L.push(`  connect retry time ${timers.retry};`);
  L.push(`  error wait time ${timers.errorWait[0]},${timers.errorWait[1]};`);
  L.push('}');
  const names = new Set<string>();
  for (const peer of input.peers) {
    const name = routerPeerName(peer);
    if (names.has(name)) throw new Error(`duplicate BGP protocol ${name}`);
    names.add(name);
    const peerAs = assertAs(peer.as);
    const portPart = peer.port !== undefined ? `port ${assertPort(peer.port)} ` : '';
    L.push('');
    L.push(`protocol bgp ${name} from fabric_peer {`);
    L.push(`  description ${birdString(peer.description ?? `${peer.name ?? peer.ip} AS${peerAs}`)};`);
    L.push(`  neighbor ${assertIpv4(peer.ip)} ${portPart}as ${peerAs};`);
    if (peer.rrClient) {
      if (peerAs !== localAs) throw new Error(`rr client ${name} must be an iBGP neighbour (AS ${localAs})`);
      L.push('  rr client;');
    }
    if (peer.password !== undefined) L.push(`  password ${birdString(peer.password)};`);
    L.push('}');
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Command lines (pure: they only build argv arrays)

/** argv for `bird` (without the program name): `-c <conf> -s <sock> -P <pid> [-f]`. */
export function birdArgv(rt: BirdRuntime): string[] {
  const argv = ['-c', rt.configPath, '-s', rt.socketPath, '-P', rt.pidFile];
  if (rt.foreground) argv.push('-f');
  return argv;
}

/** argv for `birdc` (without the program name): `-s <sock> <words…>`, e.g. `birdcArgv(s, 'show', 'protocols')`. */
export function birdcArgv(socketPath: string, ...command: string[]): string[] {
  return ['-s', socketPath, ...command];
}

// ---------------------------------------------------------------------------------------------------
// Parsers

const TIME_TOKEN = /^(\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}(\.\d+)?|\d{2}:\d{2}|[A-Z][a-z]{2}\d{1,2})$/;

/** Lines of birdc output with the `BIRD x.y.z ready.` banner and `-v` numeric codes removed. */
function birdLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\d{4}[- ]/, ''))
    .filter((l) => !/^BIRD [\d.]+.* ready\.$/.test(l.trim()));
}

/**
 * Parses `birdc -s <sock> show protocols` (BIRD 2). The header line (`Name Proto Table State Since Info`)
 * is skipped. The `Since` column is one or two tokens (date and/or time, depending on `timeformat`); every
 * token after State that looks like a date or time is taken as Since, the rest is Info.
 */
export function parseBirdProtocols(text: string): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  for (const line of birdLines(text)) {
    if (line.trim() === '') continue;
    if (/^Name\s+Proto\s+Table\s+State/.test(line)) continue;
    const tokens = line.trim().split(/\s+/);
    if (tokens.length < 4) continue;
    const [name, proto, table, state] = tokens as [string, string, string, string];
    let i = 4;
    const since: string[] = [];
    while (i < tokens.length && TIME_TOKEN.test(tokens[i]!)) since.push(tokens[i++]!);
    // Keep Info's internal spacing: cut the line after the last Since token (or after State).
    let pos = 0;
    for (let k = 0; k < i; k++) {
      pos = line.indexOf(tokens[k]!, pos) + tokens[k]!.length;
    }
    const info = line.slice(pos).trim();
    out.push({ name, proto, table, state, since: since.join(' '), info });
  }
  return out;
}

/** True for a BGP protocol whose session is up (`State up`, `Info Established`). */
export function isEstablished(p: BirdProtocol): boolean {
  return p.proto === 'BGP' && p.state === 'up' && /^Established\b/.test(p.info);
}

const ROUTE_HEADER =
  /^(\S+)?\s+(unicast|blackhole|unreachable|prohibit|multicast|via\s+\S+(?:\s+on\s+\S+)?|dev\s+\S+)?\s*\[(\S+)((?:\s+[^\]\s]+)*?)(?:\s+from\s+(\S+))?\]\s*(\*)?\s*(?:\((\d+)(?:\/[^)]*)?\))?\s*(?:\[([^\]]*)\])?\s*$/;

/**
 * Parses `birdc show route` / `birdc show route all` (BIRD 2.0 format):
 *
 * ```
 * Table master4:
 * 10.217.120.64/26     unicast [Node_192_168_64_1 12:00:01.123 from 192.168.64.1] * (100/0) [i]
 * 	via 192.168.64.58 on eth0
 * 	Type: BGP univ
 * 	BGP.as_path: 65001
 * 10.217.11.0/26       blackhole [static1 12:00:00.000] * (200)
 * ```
 *
 * Continuation routes for the same prefix (leading blanks instead of a prefix) inherit the prefix.
 * Older 2.0 releases print the next hop in the header (`via 1.2.3.4 on eth0 [proto …]`); that form is
 * accepted too.
 */
export function parseBirdRoutes(text: string): BirdRoute[] {
  interface Mut {
    prefix: string;
    kind: string;
    protocol: string;
    via: string[];
    dev: string[];
    from: string | null;
    primary: boolean;
    preference: number | null;
    origin: string | null;
    attrs: Record<string, string>;
    bgp: boolean;
  }
  const done: Mut[] = [];
  let cur: Mut | null = null;
  let lastPrefix = '';
  const flush = (): void => {
    if (cur) done.push(cur);
    cur = null;
  };
  for (const raw of birdLines(text)) {
    if (raw.trim() === '') continue;
    if (/^Table \S+:$/.test(raw.trim())) {
      flush();
      continue;
    }
    const header = ROUTE_HEADER.exec(raw);
    const isIndentedDetail = /^\t/.test(raw) || (/^\s/.test(raw) && !raw.includes('['));
    if (header && !isIndentedDetail) {
      flush();
      const prefix = header[1] ?? lastPrefix;
      lastPrefix = prefix;
      const kindField = header[2] ?? 'unicast';
      const via: string[] = [];
      const dev: string[] = [];
      let kind = kindField;
      const inlineVia = /^via\s+(\S+)/.exec(kindField);
      const inlineDev = /^dev\s+(\S+)/.exec(kindField);
      if (inlineVia) {
        kind = 'unicast';
        via.push(inlineVia[1]!);
        const on = /\bon\s+(\S+)/.exec(kindField);
        if (on) dev.push(on[1]!);
      } else if (inlineDev) {
        kind = 'unicast';
        dev.push(inlineDev[1]!);
      }
      cur = {
        prefix,
        kind,
        protocol: header[3]!,
        via,
        dev,
        from: header[5] ?? null,
        primary: header[6] === '*',
        preference: header[7] !== undefined ? Number(header[7]) : null,
        origin: header[8] !== undefined ? `[${header[8]}]` : null,
        attrs: {},
        bgp: header[8] !== undefined,
      };
      continue;
    }
    if (!cur) continue;
    const line = raw.trim();
    const via = /^via\s+(\S+)\s+on\s+(\S+)/.exec(line);
    if (via) {
      cur.via.push(via[1]!);
      cur.dev.push(via[2]!);
      continue;
    }
    const dev = /^dev\s+(\S+)/.exec(line);
    if (dev) {
      cur.dev.push(dev[1]!);
      continue;
    }
    const attr = /^([A-Za-z][\w.]*):\s?(.*)$/.exec(line);
    if (attr) {
      cur.attrs[attr[1]!] = attr[2]!;
      if (attr[1] === 'Type' && /^BGP\b/.test(attr[2]!)) cur.bgp = true;
      if (attr[1]!.startsWith('BGP.')) cur.bgp = true;
    }
  }
  flush();
  return done.map((m) => ({
    prefix: m.prefix,
    kind: m.kind,
    protocol: m.protocol,
    via: m.via,
    dev: m.dev,
    fromPeer: m.from ?? (m.bgp && m.via.length > 0 ? m.via[0]! : null),
    primary: m.primary,
    preference: m.preference,
    origin: m.origin,
    attrs: m.attrs,
  }));
}

/**
 * Parses `ip -j route show` (iproute2 JSON, IPv4) into {@link KernelRoute}s. Host routes, which iproute2
 * prints without a length (`10.217.120.72`), become `/32` like BIRD prints them; `default` stays `default`.
 * Multipath routes list every `nexthops[].gateway` in `via`.
 */
export function parseIpRouteJson(text: string): KernelRoute[] {
  const data: unknown = JSON.parse(text.trim() === '' ? '[]' : text);
  if (!Array.isArray(data)) throw new Error('ip -j route: expected a JSON array');
  return data.map((r: Record<string, unknown>) => {
    const via: string[] = [];
    if (typeof r['gateway'] === 'string') via.push(r['gateway']);
    if (Array.isArray(r['nexthops'])) {
      for (const nh of r['nexthops'] as Record<string, unknown>[]) {
        if (typeof nh['gateway'] === 'string') via.push(nh['gateway']);
      }
    }
    const dst = String(r['dst']);
    return {
      prefix: dst === 'default' || dst.includes('/') ? dst : `${dst}/32`,
      type: typeof r['type'] === 'string' ? r['type'] : 'unicast',
      via,
      dev: typeof r['dev'] === 'string' ? r['dev'] : null,
      protocol: typeof r['protocol'] === 'string' ? r['protocol'] : null,
      scope: typeof r['scope'] === 'string' ? r['scope'] : null,
    };
  });
}
