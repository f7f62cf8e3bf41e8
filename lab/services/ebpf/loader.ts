/**
 * Commands that load the tc eBPF service load balancer (bpf/lb4.c) into a pod
 * network namespace. PURE: returns argv arrays, runs nothing.
 *
 * Recipe (notes/ebpf-lb.md §3.3, verified on the host 6.18 kernel and UML 6.1):
 *   bpftool prog loadall lb4.o PIN type classifier pinmaps PIN/maps
 *   nsenter --net=/run/netns/POD tc qdisc replace dev eth0 clsact
 *   nsenter --net=/run/netns/POD tc filter replace dev eth0 egress  prio 1 handle 1 bpf da pinned PIN/from_container
 *   nsenter --net=/run/netns/POD tc filter replace dev eth0 ingress prio 1 handle 1 bpf da pinned PIN/to_container
 * then the map updates of maps.ts (encodeServiceTable(table, ebpfPinPaths(PIN).maps)).
 *
 * Why nsenter: `ip netns exec` and `tc -n` enter a new mount namespace and
 * remount /sys, which hides /sys/fs/bpf, so `pinned /sys/fs/bpf/…` is not found
 * there. `nsenter --net=` switches the network namespace only.
 *
 * Every step's argv is complete and must be executed as is, from the root
 * mount namespace where the bpffs holding PIN is mounted (never wrap it in
 * `ip netns exec`). `netns` names the namespace the step acts on (null: a
 * global kernel object, e.g. bpffs pins), for grouping and printing plans.
 */
import { lbMapPaths, LB_MAP_NAMES } from './maps.ts';
import type { LbMapPaths } from './maps.ts';

/** Program (function) names in bpf/lb4.c; bpftool pins programs by these names. */
export const PROG_EGRESS = 'from_container';
export const PROG_INGRESS = 'to_container';

export interface EbpfStep {
  /** Namespace the step acts on (null = global: bpffs, programs, maps). */
  netns: string | null;
  /** Complete argv; run directly (execFile/spawn), never through a shell or `ip netns exec`. */
  argv: string[];
  /** One line for plans and logs. */
  why: string;
}

export interface EbpfPinPaths {
  /** Directory of this pod's pins (programs). */
  dir: string;
  /** Directory of this pod's maps (`pinmaps`). */
  mapsDir: string;
  egress: string;
  ingress: string;
  /** Pinned maps of this pod (shared ones are pinned here too, as aliases). */
  maps: LbMapPaths;
}

export interface EbpfLoadOptions {
  /** Pod network namespace name (a file in netnsDir, as created by `ip netns add`). */
  netns: string;
  /** Absolute bpffs directory for this pod's pins, e.g. /sys/fs/bpf/lab/<labId>/<pod>.
   * Must be on a mounted bpffs, must not exist yet (or be empty), must not contain '.'
   * (libbpf rewrites '.' to '_' in `pinmaps` paths). */
  pinDir: string;
  /** Path of the compiled object (scripts/build-bpf.sh → .lab/bpf/lb4.o). */
  object: string;
  /** Pod interface (default 'eth0'). */
  dev?: string;
  /** Maps directory of an already loaded pod: reuse its lb4_services_v2,
   * lb4_backends and lb4_reverse_nat (one node-wide service table, like Cilium's
   * global maps). The CT map stays per pod. */
  shareMapsFrom?: string;
  /** Default '/run/netns'. */
  netnsDir?: string;
  /** tc filter priority/handle (default 1/1, as Terway's polEntry filter). */
  prio?: number;
  handle?: number;
}

const NETNS_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$/;

function fail(msg: string): never {
  throw new Error(`ebpf loader: ${msg}`);
}

function checkPinDir(what: string, p: string): string {
  if (!p.startsWith('/')) fail(`${what} must be absolute: ${JSON.stringify(p)}`);
  if (p.includes('.')) fail(`${what} must not contain '.' (libbpf turns it into '_' in pinmaps paths): ${JSON.stringify(p)}`);
  if (/[\s"'\\#]/.test(p) || p.includes('//')) fail(`${what} has characters that are not allowed: ${JSON.stringify(p)}`);
  return p.replace(/\/+$/, '');
}

function checkNetns(n: string): void {
  if (!NETNS_RE.test(n) || n === '.' || n === '..') fail(`bad netns name ${JSON.stringify(n)}`);
}

function checkDev(d: string): void {
  if (!IFNAME_RE.test(d)) fail(`bad interface name ${JSON.stringify(d)} (at most 15 bytes)`);
}

export function ebpfPinPaths(pinDir: string): EbpfPinPaths {
  const dir = checkPinDir('pinDir', pinDir);
  const mapsDir = `${dir}/maps`;
  return { dir, mapsDir, egress: `${dir}/${PROG_EGRESS}`, ingress: `${dir}/${PROG_INGRESS}`, maps: lbMapPaths(mapsDir) };
}

/** `nsenter --net=<netnsDir>/<netns> <argv…>` – network namespace only, keeps the mount namespace. */
export function nsenterArgv(netns: string, argv: readonly string[], netnsDir = '/run/netns'): string[] {
  checkNetns(netns);
  return ['nsenter', `--net=${netnsDir.replace(/\/+$/, '')}/${netns}`, ...argv];
}

/** Mount a bpffs (once per mount namespace; in UML: in init). Not part of ebpfLoadSteps. */
export function bpffsMountArgv(dir = '/sys/fs/bpf'): string[] {
  return ['mount', '-t', 'bpf', 'bpf', dir];
}

function parentDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * Load, pin and attach the load balancer for one pod. Order: create the parent
 * pin directory, `bpftool prog loadall` (programs + maps pinned), clsact qdisc,
 * egress filter, ingress filter. Fill the maps afterwards with
 * encodeServiceTable(table, ebpfPinPaths(pinDir).maps) (unless they are shared
 * and already filled). Idempotent from the qdisc on (`replace`); the load step
 * fails if pinDir already holds pins (unload first).
 */
export function ebpfLoadSteps(opts: EbpfLoadOptions): EbpfStep[] {
  const p = ebpfPinPaths(opts.pinDir);
  const dev = opts.dev ?? 'eth0';
  checkNetns(opts.netns);
  checkDev(dev);
  if (!opts.object) fail('object path is empty');
  const prio = String(opts.prio ?? 1);
  const handle = String(opts.handle ?? 1);
  const nsdir = opts.netnsDir ?? '/run/netns';
  const tc = (args: string[]) => nsenterArgv(opts.netns, ['tc', ...args], nsdir);

  const load = ['bpftool', 'prog', 'loadall', opts.object, p.dir, 'type', 'classifier'];
  if (opts.shareMapsFrom !== undefined) {
    const shared = lbMapPaths(checkPinDir('shareMapsFrom', opts.shareMapsFrom));
    load.push(
      'map', 'name', LB_MAP_NAMES.services, 'pinned', shared.services,
      'map', 'name', LB_MAP_NAMES.backends, 'pinned', shared.backends,
      'map', 'name', LB_MAP_NAMES.revNat, 'pinned', shared.revNat,
    );
  }
  load.push('pinmaps', p.mapsDir);

  return [
    { netns: null, argv: ['mkdir', '-p', parentDir(p.dir)], why: 'bpffs directory for the pod pins' },
    {
      netns: null,
      argv: load,
      why:
        `load ${PROG_EGRESS}/${PROG_INGRESS}, pin them in ${p.dir} and the maps in ${p.mapsDir}` +
        (opts.shareMapsFrom !== undefined ? ` (service maps shared with ${opts.shareMapsFrom})` : ''),
    },
    { netns: opts.netns, argv: tc(['qdisc', 'replace', 'dev', dev, 'clsact']), why: `clsact qdisc on ${dev}` },
    {
      netns: opts.netns,
      argv: tc(['filter', 'replace', 'dev', dev, 'egress', 'prio', prio, 'handle', handle, 'bpf', 'da', 'pinned', p.egress]),
      why: `${dev} egress: service DNAT (${PROG_EGRESS})`,
    },
    {
      netns: opts.netns,
      argv: tc(['filter', 'replace', 'dev', dev, 'ingress', 'prio', prio, 'handle', handle, 'bpf', 'da', 'pinned', p.ingress]),
      why: `${dev} ingress: reverse NAT of replies (${PROG_INGRESS})`,
    },
  ];
}

/** Detach and unpin. Each step may fail harmlessly if the object is already gone
 * (e.g. the netns was deleted first, which removes the qdisc and filters). */
export function ebpfUnloadSteps(opts: Pick<EbpfLoadOptions, 'netns' | 'pinDir' | 'dev' | 'netnsDir'>): EbpfStep[] {
  const p = ebpfPinPaths(opts.pinDir);
  const dev = opts.dev ?? 'eth0';
  checkNetns(opts.netns);
  checkDev(dev);
  const nsdir = opts.netnsDir ?? '/run/netns';
  return [
    { netns: opts.netns, argv: nsenterArgv(opts.netns, ['tc', 'qdisc', 'del', 'dev', dev, 'clsact'], nsdir), why: `remove clsact (and both filters) from ${dev}` },
    { netns: null, argv: ['rm', '-rf', '--', p.dir], why: `unpin programs and maps in ${p.dir}` },
  ];
}

export interface EbpfBuildOptions {
  /** bpf/lb4.c */
  source: string;
  /** Output object, e.g. .lab/bpf/lb4.o */
  output: string;
  /** Directory of lb4.h (default: the source's directory). */
  includeDir?: string;
  /** Debian multiarch triplet for <asm/types.h> (default from process.arch). */
  multiarch?: string;
  /** Extra -D defines, e.g. ['LB4_MAX_CT=1024']. */
  defines?: string[];
}

const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
};

/** clang argv that compiles the object (same flags as scripts/build-bpf.sh). */
export function ebpfBuildArgv(o: EbpfBuildOptions): string[] {
  const multiarch = o.multiarch ?? MULTIARCH[process.arch] ?? `${process.arch}-linux-gnu`;
  const inc = o.includeDir ?? parentDir(o.source);
  return [
    'clang', '-O2', '-g', '-target', 'bpf', '-Wall', '-Werror',
    `-I/usr/include/${multiarch}`, `-I${inc}`,
    ...(o.defines ?? []).map((d) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_]*)?$/.test(d)) fail(`bad define ${JSON.stringify(d)}`);
      return `-D${d}`;
    }),
    '-c', o.source, '-o', o.output,
  ];
}
