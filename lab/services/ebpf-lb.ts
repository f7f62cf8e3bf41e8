// The in-pod tc eBPF service load balancer (Terway IPVLAN + eBPF: Cilium's per-packet
// from-container service translation, shared/notes/ebpf-lb.md). bpf/lb4.c is loaded per pod
// (`bpftool prog loadall`, pinned under /sys/fs/bpf/dl-<labid>/<pod>) and attached with tc
// clsact on the pod's eth0: egress `from_container` (DNAT ClusterIP:port → a backend, one per
// connection), ingress `to_container` (reverse NAT of the replies). The translation happens
// before the capture taps on the way out and the reverse translation after them on the way in,
// so a service address is never captured on any interface.
//
// Maps: the pods of a node share one service table (lb4_services_v2, lb4_backends,
// lb4_reverse_nat — loader.ts shareMapsFrom: the node's first pod owns them; they are also
// pinned under /sys/fs/bpf/dl-<labid>/<node>/maps for `lab lb list` and the table checks), the
// conntrack map and lb4_local_ep stay per pod. Every map of the lab is filled by one
// `bpftool batch file` process. The plan keeps these commands as printed (`lab plan`); the agent
// runs the whole run of them — mkdir, every pod's load and tc batch, the map batch — from one
// dlbpf process where it is built (lab/runners/native/dlbpf.c, lab/runners/agent/ebpf.sh), which
// does what each command does through libbpf.
//
// The object is built from source: when .lab/bpf/lb4.o is missing or older than bpf/lb4.c or
// bpf/lb4.h, the plan starts with a step that runs scripts/build-bpf.sh (in the runner, before
// anything is loaded). Deciding this is a stat; compiling the plan runs nothing.
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildContext } from '../context.ts';
import { podsOn } from '../context.ts';
import type { Cluster, ClusterNode } from '../model.ts';
import { endpointPods, externalEndpoints, portBackends } from './endpoints.ts';
import { ebpfLoadSteps, ebpfPinPaths } from './ebpf/loader.ts';
import { encodeServiceTable, ipv4ToBytes, LB_MAP_NAMES, lbMapPaths, mapUpdateArgv, toBpftoolBatch, type ServiceTable } from './ebpf/maps.ts';
import type { ServiceProxy } from './types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');
export const LB4_SOURCES = [path.join(REPO_ROOT, 'bpf', 'lb4.c'), path.join(REPO_ROOT, 'bpf', 'lb4.h')];
export const LB4_OUT_DIR = path.join(REPO_ROOT, '.lab', 'bpf');
export const LB4_OBJECT = path.join(LB4_OUT_DIR, 'lb4.o');
export const BUILD_BPF = path.join(REPO_ROOT, 'scripts', 'build-bpf.sh');

/** The per-pod map of same-ENI backends (bpf/lb4.h struct lb4_local_ep). */
export const LOCAL_EP_MAP = 'lb4_local_ep';

/** Where a lab's pins live: /sys/fs/bpf/dl-<labid> (the agent's teardown removes it). */
export function labPinRoot(labId: string): string {
  return `/sys/fs/bpf/dl-${labId}`;
}
/** A lab object's pin directory (a pod's programs and maps; a node's alias of its service maps). */
export function objectPinDir(labId: string, object: string): string {
  return `${labPinRoot(labId)}/${object}`;
}
/** The node-level pins of a node's shared service maps. */
export function nodeMapsDir(labId: string, node: string): string {
  return `${objectPinDir(labId, node)}/maps`;
}

/** True when the compiled object is missing or older than its sources. */
export function lb4ObjectStale(object = LB4_OBJECT, sources = LB4_SOURCES): boolean {
  try {
    const o = statSync(object).mtimeMs;
    return sources.some((s) => statSync(s).mtimeMs > o);
  } catch {
    return true;
  }
}

/**
 * A node's service table as the eBPF maps hold it: every ClusterIP:port → its endpoints'
 * pod IP:targetPort; with in-cluster load balancing (Terway ≥ 1.2.0, the default) also every
 * ExternalIP:port, so pods reach it without leaving for the SLB. Reverse-NAT ids count from 1.
 */
export function ebpfServiceTable(cluster: Cluster, node: ClusterNode): ServiceTable {
  const table: ServiceTable = [];
  let id = 1;
  for (const svc of cluster.services) {
    for (const sp of svc.ports) {
      // bpf/lb4.c balances TCP and UDP only (Cilium's lb4 likewise): an SCTP port gets no entry.
      if (sp.protocol === 'SCTP') continue;
      const proto = sp.protocol;
      table.push({
        vip: svc.clusterIP, port: sp.port, proto, revNatId: id++, type: 'ClusterIP',
        backends: portBackends(endpointPods(cluster, svc), sp).map((b) => ({ ip: b.ip, port: b.port })),
      });
      if (!cluster.datapath.inClusterLoadBalance) continue;
      for (const eip of svc.externalIPs) {
        table.push({
          vip: eip, port: sp.port, proto, revNatId: id++, type: 'ExternalIPs',
          backends: portBackends(externalEndpoints(cluster, svc, node.name), sp).map((b) => ({ ip: b.ip, port: b.port })),
        });
      }
    }
  }
  return table;
}

/**
 * Backends a pod reaches through its own ipvlan parent: every other pod on the same ENI of the
 * same node, with the ENI's MAC (lb4_local_ep). Only for the ipvlan datapath.
 */
export function localEndpoints(ctx: Pick<BuildContext, 'cluster' | 'enis'>, podName: string): { ip: string; mac: string }[] {
  const { cluster } = ctx;
  if (cluster.datapath.kind !== 'ipvlan') return [];
  const pod = cluster.pods.find((p) => p.name === podName)!;
  const eni = ctx.enis.find((e) => e.ips.includes(pod.ip));
  if (!eni) return [];
  return cluster.pods
    .filter((p) => p.name !== pod.name && p.node === pod.node && p.eni === pod.eni)
    .map((p) => ({ ip: p.ip, mac: eni.mac }));
}

function localEpUpdates(mapPath: string, eps: { ip: string; mac: string }[]): string[][] {
  return eps.map((ep) => mapUpdateArgv(mapPath, ipv4ToBytes(ep.ip), Buffer.concat([Buffer.from(ep.mac.split(':').map((h) => parseInt(h, 16))), Buffer.alloc(2)])));
}

export const ebpfLb: ServiceProxy = {
  kind: 'ebpf',
  summary: 'tc eBPF load balancer in each pod (Cilium-style lb4 maps): service DNAT on eth0 egress, reverse NAT on ingress',
  build(ctx: BuildContext): void {
    const { b, cluster } = ctx;
    b.feature('bpf', 'clsact');
    b.module('sch_ingress', 'cls_bpf');
    const labId = b.labId;
    const nodes = cluster.nodes.filter((n) => podsOn(cluster, n.name).length > 0);
    if (!nodes.length) return;
    if (lb4ObjectStale()) {
      b.exec(null, ['bash', BUILD_BPF, LB4_OUT_DIR], 'compile bpf/lb4.c → .lab/bpf/lb4.o (missing or older than its source)');
    }
    // One mkdir for every pin directory's parent: the lab root and the nodes' alias dirs.
    b.exec(null, ['mkdir', '-p', ...nodes.map((n) => nodeMapsDir(labId, n.name))], `bpffs directories under ${labPinRoot(labId)}`);
    const batch: string[][] = [];
    for (const node of nodes) {
      const pods = podsOn(cluster, node.name);
      const owner = objectPinDir(labId, pods[0]!.name);
      for (const [i, pod] of pods.entries()) {
        const pinDir = objectPinDir(labId, pod.name);
        const steps = ebpfLoadSteps({
          netns: b.ns(pod.name), pinDir, object: LB4_OBJECT,
          shareMapsFrom: i === 0 ? undefined : ebpfPinPaths(owner).mapsDir,
        });
        // steps: mkdir (done above), bpftool loadall (host), then three tc commands through
        // nsenter (never `ip netns exec`, which hides /sys/fs/bpf): one `tc -batch` per pod.
        const load = steps.find((s) => s.netns === null && s.argv[0] === 'bpftool')!;
        b.exec(null, load.argv, load.why);
        const tcLines = steps.filter((s) => s.netns !== null).map((s) => s.argv.slice(s.argv.indexOf('tc') + 1).join(' '));
        const f = b.file(`ebpf-tc-${pod.name}`, tcLines.join('\n') + '\n');
        b.exec(pod.name, ['tc', '-batch', f], `clsact on ${pod.name}'s eth0: egress from_container (service DNAT), ingress to_container (reverse NAT)`, 'nsenter');
        batch.push(...localEpUpdates(`${ebpfPinPaths(pinDir).mapsDir}/${LOCAL_EP_MAP}`, localEndpoints(ctx, pod.name)));
      }
      // The node's table: alias pins of the owner's shared maps, then the entries.
      const nodeMaps = nodeMapsDir(labId, node.name);
      for (const m of [LB_MAP_NAMES.services, LB_MAP_NAMES.backends, LB_MAP_NAMES.revNat]) {
        batch.push(['bpftool', 'map', 'pin', 'pinned', `${ebpfPinPaths(owner).mapsDir}/${m}`, `${nodeMaps}/${m}`]);
      }
      batch.push(...encodeServiceTable(ebpfServiceTable(cluster, node), lbMapPaths(nodeMaps)));
    }
    const f = b.file('ebpf-maps.batch', toBpftoolBatch(batch));
    b.exec(null, ['bpftool', 'batch', 'file', f], `fill every service table and local-endpoint map of the lab (${batch.length} map operations, one process)`);
    // The tables the scenario's checks read back after the probes.
    for (const p of ctx.scenario?.probes ?? []) for (const x of p.expect.ebpfLb ?? []) b.dump('bpf', x.node);
  },
};
