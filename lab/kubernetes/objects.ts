/**
 * The fields this lab reads from Node, Pod, Service and discovery.k8s.io/v1 EndpointSlice objects —
 * the ones kube-proxy reads (pkg/proxy/serviceport.go, endpointslicecache.go) plus what places pods
 * and nodes — checked one by one, every bad value an InputError at its file:line. The shapes are
 * kubernetes-types' (generated from the Kubernetes OpenAPI), so a field name that does not exist
 * upstream does not compile.
 */
import type { Node as K8sNode, Pod as K8sPod, Service as K8sService } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice as K8sEndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { InputError, type InputIssue } from '../errors.ts';
import { isIpv4 } from '../net.ts';
import type { FieldPath, KubeObject } from './manifests.ts';
import type { SliceEndpoint as ModelSliceEndpoint } from '../model.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface NodeObject {
  name: string;
  internalIP?: string;
  podCIDR?: string;
  src: KubeObject;
}

export interface PodObject {
  namespace: string;
  name: string;
  nodeName?: string;
  podIP?: string;
  labels: Record<string, string>;
  /** Container ports: number and (optional) name, the listeners of the pod. */
  ports: { port: number; name?: string; protocol: Protocol }[];
  src: KubeObject;
}

export interface ServicePortObject {
  name?: string;
  protocol: Protocol;
  port: number;
  /** A number, or a container port name (resolved by the EndpointSlices). */
  targetPort: number | string;
  nodePort?: number;
}

export interface ServiceObject {
  namespace: string;
  name: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  clusterIP?: string;
  externalIPs: string[];
  externalTrafficPolicy: 'Cluster' | 'Local';
  internalTrafficPolicy: 'Cluster' | 'Local';
  sessionAffinityTimeout?: number;
  loadBalancerIPs: string[];
  loadBalancerSourceRanges: string[];
  healthCheckNodePort?: number;
  selector?: Record<string, string>;
  ports: ServicePortObject[];
  src: KubeObject;
}

/** An endpoint as the slice object carries it; its ports are the slice's, added by the merge. */
export type SliceEndpoint = Omit<ModelSliceEndpoint, 'ports'>;

export interface EndpointSliceObject {
  namespace: string;
  name: string;
  /** The kubernetes.io/service-name label: the Service it belongs to. */
  serviceName: string;
  ports: { name: string; port: number; protocol: Protocol }[];
  endpoints: SliceEndpoint[];
  src: KubeObject;
}

export interface ClusterObjects {
  nodes: NodeObject[];
  pods: PodObject[];
  services: ServiceObject[];
  endpointSlices: EndpointSliceObject[];
}

/** Collects issues while reading an object; `done()` throws them all at once. */
class Reader {
  readonly issues: InputIssue[] = [];
  readonly o: KubeObject;
  constructor(o: KubeObject) {
    this.o = o;
  }
  bad(path: FieldPath, message: string): undefined {
    this.issues.push(this.o.issue(path, message));
    return undefined;
  }
  ip(path: FieldPath, v: unknown): string | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    return typeof v === 'string' && isIpv4(v) ? v : this.bad(path, `${JSON.stringify(v)} is not an IPv4 address (this lab models IPv4 only)`);
  }
  cidr(path: FieldPath, v: unknown): string | undefined {
    if (v === undefined || v === null || v === '') return undefined;
    const m = typeof v === 'string' ? /^\s*(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})\s*$/.exec(v) : null;
    return m && isIpv4(m[1]!) && Number(m[2]) <= 32 ? (v as string) : this.bad(path, `${JSON.stringify(v)} is not an IPv4 CIDR`);
  }
  port(path: FieldPath, v: unknown, min = 1): number | undefined {
    if (v === undefined || v === null) return undefined;
    return Number.isInteger(v) && (v as number) >= min && (v as number) <= 65535 ? (v as number) : this.bad(path, `${JSON.stringify(v)} is not a port (${min}–65535)`);
  }
  protocol(path: FieldPath, v: unknown): Protocol {
    if (v === undefined || v === null) return 'TCP';
    return v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : (this.bad(path, `protocol ${JSON.stringify(v)}: expected TCP, UDP or SCTP`), 'TCP');
  }
  oneOf<T extends string>(path: FieldPath, v: unknown, allowed: readonly T[], dflt: T): T {
    if (v === undefined || v === null) return dflt;
    return allowed.includes(v as T) ? (v as T) : (this.bad(path, `${JSON.stringify(v)}: expected one of ${allowed.join(', ')}`), dflt);
  }
  strings(path: FieldPath, v: unknown): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return (this.bad(path, 'expected a list of strings'), []);
    return v as string[];
  }
  labels(path: FieldPath, v: unknown): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
      return (this.bad(path, 'expected a map of strings'), {});
    }
    return v as Record<string, string>;
  }
}

function readNode(r: Reader): NodeObject {
  const n = r.o.raw as unknown as K8sNode;
  const addresses = n.status?.addresses ?? [];
  const i = addresses.findIndex((a) => a.type === 'InternalIP' && isIpv4(a.address));
  return {
    name: r.o.name,
    internalIP: i >= 0 ? r.ip(['status', 'addresses', i, 'address'], addresses[i]!.address) : undefined,
    podCIDR: r.cidr(['spec', 'podCIDR'], n.spec?.podCIDR),
    src: r.o,
  };
}

function readPod(r: Reader): PodObject {
  const p = r.o.raw as unknown as K8sPod;
  const ports: PodObject['ports'] = [];
  (p.spec?.containers ?? []).forEach((c, ci) =>
    (c.ports ?? []).forEach((cp, pi) => {
      const path = ['spec', 'containers', ci, 'ports', pi];
      const port = r.port([...path, 'containerPort'], cp.containerPort);
      if (port !== undefined) ports.push({ port, ...(cp.name ? { name: cp.name } : {}), protocol: r.protocol([...path, 'protocol'], cp.protocol) });
    }),
  );
  return {
    namespace: r.o.namespace || 'default',
    name: r.o.name,
    nodeName: p.spec?.nodeName,
    podIP: r.ip(['status', 'podIP'], p.status?.podIP),
    labels: r.labels(['metadata', 'labels'], p.metadata?.labels),
    ports,
    src: r.o,
  };
}

function readService(r: Reader): ServiceObject {
  const s = r.o.raw as unknown as K8sService;
  const spec = s.spec ?? {};
  const type = r.oneOf(['spec', 'type'], spec.type, ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const, 'ClusterIP');
  const clusterIP = spec.clusterIP === 'None' || spec.clusterIP === undefined || spec.clusterIP === '' ? undefined : r.ip(['spec', 'clusterIP'], spec.clusterIP);
  const ports = (spec.ports ?? []).map((p, i): ServicePortObject => {
    const path = ['spec', 'ports', i];
    const port = r.port([...path, 'port'], p.port) ?? 1;
    const tp = p.targetPort;
    const targetPort = typeof tp === 'string' ? (/^\d+$/.test(tp) ? Number(tp) : tp) : (r.port([...path, 'targetPort'], tp) ?? port);
    const nodePort = r.port([...path, 'nodePort'], p.nodePort);
    return { ...(p.name ? { name: p.name } : {}), protocol: r.protocol([...path, 'protocol'], p.protocol), port, targetPort, ...(nodePort ? { nodePort } : {}) };
  });
  const ingress = s.status?.loadBalancer?.ingress ?? [];
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  const affinity = r.oneOf(['spec', 'sessionAffinity'], spec.sessionAffinity, ['None', 'ClientIP'] as const, 'None');
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 86400)) {
    r.bad(['spec', 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds'], `${JSON.stringify(timeout)}: expected 1–86400 seconds`);
  }
  return {
    namespace: r.o.namespace || 'default',
    name: r.o.name,
    type,
    ...(clusterIP ? { clusterIP } : {}),
    externalIPs: r.strings(['spec', 'externalIPs'], spec.externalIPs).filter((ip, i) => r.ip(['spec', 'externalIPs', i], ip) !== undefined),
    externalTrafficPolicy: r.oneOf(['spec', 'externalTrafficPolicy'], spec.externalTrafficPolicy, ['Cluster', 'Local'] as const, 'Cluster'),
    internalTrafficPolicy: r.oneOf(['spec', 'internalTrafficPolicy'], spec.internalTrafficPolicy, ['Cluster', 'Local'] as const, 'Cluster'),
    // kube-proxy: ClientIP without a config → StickyMaxAgeSeconds' default 10800.
    ...(affinity === 'ClientIP' ? { sessionAffinityTimeout: timeout ?? 10800 } : {}),
    loadBalancerIPs: ingress.flatMap((g, i) => (g.ip ? [r.ip(['status', 'loadBalancer', 'ingress', i, 'ip'], g.ip)].filter((x): x is string => !!x) : [])),
    // kube-proxy trims the ranges (and ignores what does not parse): the raw strings are kept.
    loadBalancerSourceRanges: r.strings(['spec', 'loadBalancerSourceRanges'], spec.loadBalancerSourceRanges),
    ...(spec.healthCheckNodePort ? { healthCheckNodePort: r.port(['spec', 'healthCheckNodePort'], spec.healthCheckNodePort) ?? 0 } : {}),
    ...(spec.selector ? { selector: r.labels(['spec', 'selector'], spec.selector) } : {}),
    ports,
    src: r.o,
  };
}

function readEndpointSlice(r: Reader): EndpointSliceObject {
  const e = r.o.raw as unknown as K8sEndpointSlice;
  const serviceName = e.metadata?.labels?.['kubernetes.io/service-name'] ?? '';
  if (!serviceName) r.bad(['metadata', 'labels'], 'missing the kubernetes.io/service-name label (which Service the slice belongs to)');
  if (e.addressType !== 'IPv4') r.bad(['addressType'], `${JSON.stringify(e.addressType)}: this lab models IPv4 only`);
  const ports = (e.ports ?? []).map((p, i) => ({
    name: p.name ?? '',
    port: r.port(['ports', i, 'port'], p.port) ?? 0,
    protocol: r.protocol(['ports', i, 'protocol'], p.protocol),
  }));
  const endpoints: SliceEndpoint[] = [];
  (e.endpoints ?? []).forEach((ep, i) => {
    // kube-proxy uses the first address of an endpoint (endpointslicecache.go).
    const ip = r.ip(['endpoints', i, 'addresses', 0], ep.addresses?.[0]);
    if (!ip) return void r.bad(['endpoints', i, 'addresses'], 'an endpoint needs an address');
    const c = ep.conditions ?? {};
    // Ready nil = ready; serving nil defers to ready; terminating nil = false (EndpointConditions).
    const ready = c.ready ?? true;
    endpoints.push({ ip, ...(ep.nodeName ? { nodeName: ep.nodeName } : {}), ready, serving: c.serving ?? ready, terminating: c.terminating ?? false });
  });
  return { namespace: r.o.namespace || 'default', name: r.o.name, serviceName, ports, endpoints, src: r.o };
}

const READERS = {
  Node: { apiVersion: 'v1', read: readNode, list: 'nodes' },
  Pod: { apiVersion: 'v1', read: readPod, list: 'pods' },
  Service: { apiVersion: 'v1', read: readService, list: 'services' },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', read: readEndpointSlice, list: 'endpointSlices' },
} as const;

/** Node, Pod, Service and EndpointSlice objects, read; other kinds are skipped (a dump holds many). */
export function readClusterObjects(objects: readonly KubeObject[]): ClusterObjects {
  const out: ClusterObjects = { nodes: [], pods: [], services: [], endpointSlices: [] };
  const issues: InputIssue[] = [];
  const seen = new Map<string, KubeObject>();
  for (const o of objects) {
    const reader = READERS[o.kind as keyof typeof READERS];
    if (!reader) continue;
    const r = new Reader(o);
    if (o.apiVersion !== reader.apiVersion) {
      issues.push(o.issue(['apiVersion'], `${JSON.stringify(o.apiVersion)}: expected ${reader.apiVersion}`));
      continue;
    }
    const key = `${o.kind}/${o.namespace}/${o.name}`;
    const before = seen.get(key);
    if (before) {
      issues.push(o.issue(['metadata', 'name'], `defined twice (also at ${before.file}:${before.at([]).line})`));
      continue;
    }
    seen.set(key, o);
    const value = reader.read(r);
    issues.push(...r.issues);
    (out[reader.list] as unknown[]).push(value);
  }
  if (issues.length > 0) throw new InputError(issues);
  return out;
}
