/**
 * `lab import DUMP`: a starter topology from a cluster dump (`kubectl get nodes,pods,services,
 * endpointslices -A -o yaml`). The dump itself stays the source of the pods, Services and
 * EndpointSlices (cluster.manifests points at it); the topology adds what a dump cannot say: the
 * vSwitches (one per /24 holding node InternalIPs, and pod IPs for the ENI-based datapaths — a dump
 * does not carry the subnet mask), the ENIs and per-pod fields of the datapath (./import-datapath.ts),
 * kube-proxy's release and --cluster-cidr, and one probe per Service that a modelled pod serves.
 * Pure: objects in, YAML text out.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { InputError, type InputIssue } from '../errors.ts';
import { cidrContains, intToIp, ipToInt } from '../net.ts';
import { isKubeProxyVersion } from '../services/iptables/release.ts';
import { placeDatapath, type ImportDatapath } from './import-datapath.ts';
import { readManifests } from './manifests.ts';
import { readClusterObjects, type ClusterObjects, type NodeObject, type PodObject, type ServiceObject } from './objects.ts';

export { IMPORT_DATAPATHS, type ImportDatapath } from './import-datapath.ts';

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export interface ImportOptions {
  /** The dump's path as the topology will reference it (relative to the topology file). */
  manifestPath: string;
  datapath?: ImportDatapath;
  title?: string;
}

/** The smallest CIDR holding every address (undefined for none). */
export function coveringCidr(ips: readonly string[]): string | undefined {
  if (ips.length === 0) return undefined;
  const ints = ips.map(ipToInt);
  let len = 32;
  while (len > 0 && ints.some((n) => (n >>> (32 - len)) !== (ints[0]! >>> (32 - len)))) len--;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return `${intToIp((ints[0]! & mask) >>> 0)}/${len}`;
}

function checkNames(objects: ClusterObjects): InputIssue[] {
  const issues: InputIssue[] = [];
  for (const n of objects.nodes) {
    const outside = placedPods(objects).filter((p) => p.nodeName === n.name && n.podCIDR && !cidrContains(n.podCIDR, p.podIP!));
    if (outside.length) issues.push(n.src.issue(['spec', 'podCIDR'], `${n.podCIDR} does not hold its pods' IPs (${outside.map((p) => p.podIP).join(', ')}): is IPAM not the node-range one? Remove spec.podCIDR from the dump to derive the block from the pods`));
  }
  const bad = (o: NodeObject | PodObject | ServiceObject) =>
    issues.push(o.src.issue(['metadata', 'name'], `"${o.name}" cannot name a lab object (lower-case letters, digits and '-', at most 40: it becomes a network namespace)`));
  for (const n of objects.nodes) if (!NAME.test(n.name) || n.name.length > 40) bad(n);
  for (const p of placedPods(objects)) if (!NAME.test(p.name) || p.name.length > 40) bad(p);
  for (const s of objects.services) if (!NAME.test(s.name) || s.name.length > 40) bad(s);
  return issues;
}

/** Pods with an address and a node, not on the host network: the ones with a datapath. */
function placedPods(objects: ClusterObjects): PodObject[] {
  return objects.pods.filter((p) => p.podIP && p.nodeName && (p.src.raw['spec'] as Record<string, unknown> | undefined)?.['hostNetwork'] !== true);
}

/** kube-proxy's release from the nodes' status.nodeInfo.kubeProxyVersion (the oldest one). */
function kubeProxyVersion(objects: ClusterObjects): string | undefined {
  const versions = objects.nodes
    .map((n) => (((n.src.raw['status'] as Record<string, unknown> | undefined)?.['nodeInfo'] as Record<string, unknown> | undefined)?.['kubeProxyVersion']))
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.replace(/^v/, '').replace(/[-+].*$/, ''))
    .filter(isKubeProxyVersion);
  return versions.sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))[0];
}

/** One probe per Service with a modelled, ready, listening endpoint: from a pod that is not one, over
 *  the protocol of the Service's first port (TCP, UDP or SCTP). */
function starterScenarios(objects: ClusterObjects, pods: readonly PodObject[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of objects.services) {
    const proto = s.ports[0]?.protocol; // the probe speaks the first port's protocol (a probe's protocol field)
    if (!s.clusterIP || s.type === 'ExternalName' || !proto) continue;
    const slices = objects.endpointSlices.filter((e) => e.namespace === s.namespace && e.serviceName === s.name);
    const eps = slices.flatMap((e) => e.endpoints.filter((x) => x.ready).map((x) => x.ip));
    const served = pods.filter((p) => eps.includes(p.podIP!) && p.ports.some((x) => x.protocol === proto));
    if (served.length === 0) continue;
    const client = pods.find((p) => !eps.includes(p.podIP!));
    if (!client) continue;
    out.push({
      id: `svc-${s.name}`.slice(0, 60),
      title: `${client.name} → ${s.namespace}/${s.name} ClusterIP ${s.clusterIP}:${s.ports[0]!.port}${proto === 'TCP' ? '' : `/${proto}`}`,
      probes: [{ from: client.name, to: `svc/${s.name}:clusterIP`, ...(proto === 'TCP' ? {} : { protocol: proto.toLowerCase() }), expect: { reachable: true } }],
    });
  }
  return out;
}

/** The starter topology's YAML for a dump's objects. Names that cannot name a lab object → InputError. */
export function importTopology(objects: ClusterObjects, o: ImportOptions): string {
  const issues = checkNames(objects);
  if (issues.length) throw new InputError(issues);
  const pods = placedPods(objects);
  const nodes = objects.nodes.filter((n) => n.internalIP);
  const datapath = o.datapath ?? 'calico';
  const place = placeDatapath(datapath, nodes, pods, coveringCidr);
  const clusterCIDR = coveringCidr(pods.map((p) => p.podIP!));
  const version = kubeProxyVersion(objects);
  // The ClusterIPs' covering range stands for the apiserver's --service-cluster-ip-range (not in a
  // dump): the eni and ipvlan datapaths route or redirect it (serviceProxy.serviceCIDR).
  const serviceCIDR = datapath === 'eni' || datapath === 'ipvlan' ? coveringCidr(objects.services.map((s) => s.clusterIP).filter((ip): ip is string => !!ip && ip !== 'None')) : undefined;
  const topology = {
    apiVersion: 'datapath-lab/v1',
    family: 'imported',
    title: o.title ?? `Imported cluster (${nodes.length} nodes, ${objects.services.length} services)`,
    source: `lab import ${path.basename(o.manifestPath)}`,
    cluster: {
      manifests: [o.manifestPath],
      datapath: place.datapath,
      serviceProxy: {
        kind: place.ebpfServices ? 'ebpf' : 'iptables',
        ...(clusterCIDR ? { clusterCIDR } : {}), ...(serviceCIDR ? { serviceCIDR } : {}), ...(version ? { version } : {}),
      },
      vpc: { vswitches: place.vswitches },
      ...(place.routers ? { routers: place.routers } : {}),
      nodes: place.nodes,
      ...(place.pods.length ? { pods: place.pods } : {}),
    },
    scenarios: starterScenarios(objects, pods),
  };
  const header = [
    `# Starter topology written by \`lab import\` from ${path.basename(o.manifestPath)}: the pods, Services and`,
    `# EndpointSlices come from the dump (cluster.manifests); datapath ${datapath}: vSwitches are the /24s of the`,
    `# node IPs${datapath === 'calico' ? '' : ' and pod IPs'}${datapath === 'ipvlan' ? '; Services by eBPF on the pods\' ipvlan interfaces (Terway IPVLAN)' : ''}`,
    '# (a dump carries no subnet mask: widen them if your nodes share a larger subnet).',
  ].join('\n');
  return `${header}\n${stringify(topology, { lineWidth: 120, flowCollectionPadding: true })}`;
}

/** Reads a dump and writes (or returns) its starter topology, the dump named relative to the output. */
export function importDumpFile(dump: string, opts: { output?: string; datapath?: ImportDatapath } = {}): string {
  const objects = readClusterObjects(readManifests(dump));
  const from = opts.output ? path.dirname(path.resolve(opts.output)) : process.cwd();
  const manifestPath = path.relative(from, path.resolve(dump)) || path.basename(dump);
  const text = importTopology(objects, { manifestPath, ...(opts.datapath ? { datapath: opts.datapath } : {}) });
  if (opts.output) writeFileSync(opts.output, text);
  return text;
}
