/**
 * `cluster.manifests`: Kubernetes objects merged into a topology before its model is built. What
 * manifests cannot say (vSwitches, ENIs, racks, security groups, SLBs, the datapath) comes from the
 * topology; an object named in both is merged by name, and a contradiction is bad input (exit 2) at
 * the manifest's file:line, naming the topology's line too.
 *  - Node → cluster.nodes (name, InternalIP = the primary ENI's IP, spec.podCIDR); a Node the topology
 *    lacks gets one primary ENI eth0 in the vSwitch holding its InternalIP.
 *  - Pod → cluster.pods (spec.nodeName, status.podIP, labels, container ports as listeners and named
 *    ports). Pods without an IP or node, or on the host network, carry no datapath: skipped.
 *  - Service → cluster.services, every field kube-proxy reads; EndpointSlices → its endpoints as they
 *    are (replacing the selector's pods), endpoints no modelled pod holds kept for the rules.
 */
import path from 'node:path';
import { InputError, type InputIssue } from '../errors.ts';
import type { Locator } from '../topology/locate.ts';
import { cidrContains } from '../net.ts';
import type { SliceEndpoint } from '../model.ts';
import { readManifests } from './manifests.ts';
import { readClusterObjects, type ClusterObjects, type EndpointSliceObject, type NodeObject, type PodObject, type ServiceObject } from './objects.ts';

type Raw = Record<string, unknown>;
interface RawCluster {
  manifests?: string[];
  vpc: { vswitches: Raw[] };
  nodes: (Raw & { enis: Raw[] })[];
  pods?: Raw[];
  services?: (Raw & { ports: Raw[] })[];
}

class Merge {
  readonly issues: InputIssue[] = [];
  readonly c: RawCluster;
  readonly loc: Locator;
  constructor(c: RawCluster, loc: Locator) {
    this.c = c;
    this.loc = loc;
  }
  /** A contradiction: reported at the manifest, with the topology's line. */
  clash(src: { issue: (p: (string | number)[], m: string) => InputIssue }, field: (string | number)[], topoPath: (string | number)[], message: string): void {
    const at = this.loc.at(topoPath);
    this.issues.push(src.issue(field, `${message} (the topology says otherwise at ${this.loc.file}:${at.line})`));
  }

  node(n: NodeObject): void {
    const i = this.c.nodes.findIndex((x) => x.name === n.name);
    if (i < 0) {
      if (!n.internalIP) return void this.issues.push(n.src.issue(['status', 'addresses'], 'a Node the topology does not list needs an InternalIP to be placed'));
      const vsw = this.c.vpc.vswitches.find((v) => cidrContains(v.cidr as string, n.internalIP!));
      if (!vsw) return void this.issues.push(n.src.issue(['status', 'addresses'], `InternalIP ${n.internalIP} is in no vSwitch of the topology (cluster.vpc.vswitches)`));
      this.c.nodes.push({ name: n.name, ...(n.podCIDR ? { podCIDR: n.podCIDR } : {}), enis: [{ name: 'eth0', vswitch: vsw.name, ip: n.internalIP }] });
      return;
    }
    const t = this.c.nodes[i]!;
    const ip = t.enis[0]?.ip as string | undefined;
    if (n.internalIP && ip && ip !== n.internalIP) this.clash(n.src, ['status', 'addresses'], ['cluster', 'nodes', i, 'enis', 0, 'ip'], `InternalIP ${n.internalIP} is not the node's primary ENI IP ${ip}`);
    if (n.internalIP && !ip && t.enis[0]) t.enis[0].ip = n.internalIP;
    if (n.podCIDR && t.podCIDR && t.podCIDR !== n.podCIDR) this.clash(n.src, ['spec', 'podCIDR'], ['cluster', 'nodes', i, 'podCIDR'], `podCIDR ${n.podCIDR} is not ${String(t.podCIDR)}`);
    if (n.podCIDR && !t.podCIDR) t.podCIDR = n.podCIDR;
  }

  pod(p: PodObject): void {
    if (!p.podIP || !p.nodeName) return;
    if ((p.src.raw['spec'] as Raw | undefined)?.['hostNetwork'] === true) return;
    const pods = (this.c.pods ??= []);
    const ports = (proto: string) => [...new Set(p.ports.filter((x) => x.protocol === proto).map((x) => x.port))];
    // Container ports by protocol: TCP ones are "listen", UDP and SCTP ones listenUdp and listenSctp.
    const listen = ports('TCP');
    const more: Raw = { ...(ports('UDP').length ? { listenUdp: ports('UDP') } : {}), ...(ports('SCTP').length ? { listenSctp: ports('SCTP') } : {}) };
    const namedPorts = Object.fromEntries(p.ports.filter((x) => x.name).map((x) => [x.name!, x.port]));
    const i = pods.findIndex((x) => x.name === p.name);
    if (i < 0) {
      pods.push({ name: p.name, namespace: p.namespace, node: p.nodeName, ip: p.podIP, labels: p.labels, listen, ...more, namedPorts });
      return;
    }
    const t = pods[i]!;
    if (t.node !== p.nodeName) this.clash(p.src, ['spec', 'nodeName'], ['cluster', 'pods', i, 'node'], `nodeName ${p.nodeName} is not ${String(t.node)}`);
    if (t.ip !== p.podIP) this.clash(p.src, ['status', 'podIP'], ['cluster', 'pods', i, 'ip'], `podIP ${p.podIP} is not ${String(t.ip)}`);
    const labels = { ...((t.labels as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(p.labels)) {
      if (labels[k] !== undefined && labels[k] !== v) this.clash(p.src, ['metadata', 'labels', k], ['cluster', 'pods', i, 'labels', k], `label ${k}=${v} is not ${labels[k]}`);
      labels[k] = v;
    }
    t.labels = labels;
    t.listen = [...new Set([...((t.listen as number[] | undefined) ?? []), ...listen])];
    for (const [k, v] of Object.entries(more)) t[k] = [...new Set([...((t[k] as number[] | undefined) ?? []), ...(v as number[])])];
    t.namedPorts = { ...namedPorts, ...((t.namedPorts as Record<string, number> | undefined) ?? {}) };
  }

  service(s: ServiceObject, slices: readonly EndpointSliceObject[]): void {
    if (!s.clusterIP || s.type === 'ExternalName') return;
    const services = (this.c.services ??= []);
    const mine = slices.filter((x) => x.namespace === s.namespace && x.serviceName === s.name);
    const fromManifest: Raw & { ports: Raw[] } = {
      name: s.name, namespace: s.namespace, clusterIP: s.clusterIP, type: s.type,
      externalIPs: s.externalIPs, externalTrafficPolicy: s.externalTrafficPolicy, internalTrafficPolicy: s.internalTrafficPolicy,
      loadBalancerIPs: s.loadBalancerIPs,
      loadBalancerSourceRanges: s.loadBalancerSourceRanges.map((r) => r.trim()).filter((r) => r.length > 0),
      ...(s.healthCheckNodePort ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
      ...(s.sessionAffinityTimeout !== undefined ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.sessionAffinityTimeout } } } : {}),
      ...(s.selector ? { selector: s.selector } : {}),
      ports: s.ports.map((p) => ({ ...p })),
      ...(mine.length ? { endpointSlices: sliceEndpoints(s, mine) } : {}),
    };
    const i = services.findIndex((x) => x.name === s.name && ((x.namespace as string | undefined) ?? 'default') === s.namespace);
    if (i < 0) return void services.push(fromManifest);
    const t = services[i]!;
    if (t.clusterIP !== s.clusterIP) this.clash(s.src, ['spec', 'clusterIP'], ['cluster', 'services', i, 'clusterIP'], `clusterIP ${s.clusterIP} is not ${String(t.clusterIP)}`);
    // The topology's own fields stay (they may add what a dump lacks); the manifest fills the rest.
    services[i] = { ...fromManifest, ...t, ...(mine.length ? { endpointSlices: fromManifest['endpointSlices'] } : {}) } as Raw & { ports: Raw[] };
  }
}

/** A Service's endpoints from its slices, each with the slice's ports that match a service port. */
function sliceEndpoints(s: ServiceObject, slices: readonly EndpointSliceObject[]): SliceEndpoint[] {
  return slices.flatMap((slice) => {
    const ports: Record<string, number> = {};
    for (const p of slice.ports) if (s.ports.some((sp) => (sp.name ?? '') === p.name && sp.protocol === p.protocol)) ports[p.name] = p.port;
    return slice.endpoints.map((e) => ({ ip: e.ip, ...(e.nodeName ? { nodeName: e.nodeName } : {}), ready: e.ready, serving: e.serving, terminating: e.terminating, ports }));
  });
}

/** Every object of the topology's `cluster.manifests`, paths relative to the topology file. */
export function readTopologyManifests(paths: readonly string[], topologyFile: string): ClusterObjects {
  const dir = path.dirname(topologyFile);
  return readClusterObjects(paths.flatMap((p) => readManifests(path.resolve(dir, p))));
}

/**
 * Merges `cluster.manifests` into the raw (schema-checked) topology, in place; throws InputError with
 * every problem. A topology without manifests is returned untouched.
 */
export function mergeManifests<T extends { cluster: unknown }>(raw: T, topologyFile: string, loc: Locator): T {
  const c = raw.cluster as RawCluster;
  if (!c.manifests?.length) return raw;
  const objects = readTopologyManifests(c.manifests, topologyFile);
  const m = new Merge(c, loc);
  for (const n of objects.nodes) m.node(n);
  for (const p of objects.pods) m.pod(p);
  for (const s of objects.services) m.service(s, objects.endpointSlices);
  for (const slice of objects.endpointSlices) {
    if (!objects.services.some((s) => s.namespace === slice.namespace && s.name === slice.serviceName)) {
      m.issues.push(slice.src.issue(['metadata', 'labels'], `belongs to Service ${slice.namespace}/${slice.serviceName}, which no manifest holds`));
    }
  }
  if (m.issues.length) throw new InputError(m.issues);
  return raw;
}
