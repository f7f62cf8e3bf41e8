// BGP model types: what the BIRD renderers take (input) and what the birdc parsers return.
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
  /** `passive on`: only accept this neighbour's connection, never open one (BIRD 2 BGP options). */
  readonly passive?: boolean;
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
