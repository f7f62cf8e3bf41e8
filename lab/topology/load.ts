// Topology loading: YAML → schema check (ajv, against the shipped JSON Schema) → semantic
// checks → model with defaults. Every problem is reported with file:line:column, the field
// and what was expected; nothing is built from a file that has a problem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { InputError, type InputIssue } from '../errors.ts';
import { cidrContains, cidrsOverlap, defaultGateway, isIpv4 } from '../net.ts';
import type {
  Cluster, ClusterNode, Expect, Pod, Probe, Scenario, Service, Topology, CaptureExpect,
} from '../model.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCHEMA_PATH = path.resolve(here, '../../schema/topology.schema.json');
export const TOPOLOGY_DIR = path.resolve(here, '../../topologies');

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
let validator: ReturnType<Ajv['compile']> | undefined;
function schemaValidator() {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
  }
  return validator;
}

type PathSeg = string | number;

class Locator {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }
  /** Position of the deepest YAML node that exists along `p`. */
  at(p: PathSeg[]): { line: number; column: number } {
    for (let n = p.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(p.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  }
  issue(p: PathSeg[], message: string): InputIssue {
    return { file: this.file, ...this.at(p), field: fieldName(p), message };
  }
}

function fieldName(p: PathSeg[]): string {
  let s = '';
  for (const seg of p) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || '(document)';
}

function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer.split('/').slice(1).map((s) => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(u) ? Number(u) : u;
  });
}

function describeAjvError(e: ErrorObject, value: unknown): string {
  const shown = JSON.stringify(value);
  const got = shown === undefined ? '' : ` (got ${shown.length > 60 ? shown.slice(0, 57) + '...' : shown})`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'const':
      return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}${got}`;
    case 'pattern':
    case 'format':
    case 'maxLength':
    case 'minLength': {
      const d = (e.parentSchema as { description?: string } | undefined)?.description;
      // A regex says little to a person: show the schema's description of the field instead.
      const what = e.keyword === 'pattern' && d ? 'is not valid' : e.message;
      return `${what}${got}${d ? ` — expected ${d}` : ''}`;
    }
    default:
      return `${e.message}${got}`;
  }
}

/** Reads a topology file. Throws InputError (exit 2) with every problem found. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError([{ file, line: 0, column: 0, field: '(file)', message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseTopology(text, file);
}

export function parseTopology(text: string, file: string): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(file, doc, lines);
  if (doc.errors.length) {
    throw new InputError(doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '(yaml)', message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') };
    }));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases, alias bombs: the YAML is well-formed but cannot become data.
    throw new InputError([{ file, line: 1, column: 1, field: '(yaml)', message: (err as Error).message }]);
  }
  const validate = schemaValidator();
  if (!validate(raw)) {
    // Keep the most specific error per location (oneOf produces noise).
    const seen = new Set<string>();
    const issues: InputIssue[] = [];
    for (const e of validate.errors ?? []) {
      if (e.keyword === 'oneOf' || e.keyword === 'if') continue;
      const p = pointerToPath(e.instancePath);
      if (e.keyword === 'additionalProperties') p.push((e.params as { additionalProperty: string }).additionalProperty);
      const value = e.keyword === 'required' || e.keyword === 'additionalProperties' ? undefined : valueAt(raw, p);
      const issue = loc.issue(p, describeAjvError(e, value));
      const key = `${issue.field}|${issue.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        issues.push(issue);
      }
    }
    throw new InputError(issues);
  }
  const model = toModel(raw as RawTopology, file);
  const issues = checkSemantics(model, raw as RawTopology, loc);
  if (issues.length) throw new InputError(issues);
  return model;
}

function valueAt(obj: unknown, p: PathSeg[]): unknown {
  let cur: unknown = obj;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

// ---- raw shapes (as validated by the schema) ---------------------------------------------
type Raw = Record<string, unknown>;
interface RawTopology {
  family: string; title: string; source?: string;
  cluster: Raw & {
    datapath: Raw; serviceProxy?: Raw; vpc: { vswitches: Raw[] }; nodes: (Raw & { enis: Raw[] })[];
    pods?: Raw[]; services?: (Raw & { ports: Raw[] })[]; slbs?: (Raw & { backends: Raw[] })[];
    clients?: Raw[]; securityGroups?: (Raw & { rules: Raw[] })[]; routers?: Raw[];
  };
  scenarios: (Raw & { probes: (Raw & { expect?: Raw })[] })[];
}

function toModel(r: RawTopology, file: string): Topology {
  const c = r.cluster;
  const vswitches = c.vpc.vswitches.map((v) => ({
    name: v.name as string, cidr: v.cidr as string, gateway: (v.gateway as string | undefined) ?? defaultGateway(v.cidr as string),
  }));
  const nodes: ClusterNode[] = c.nodes.map((n) => ({
    name: n.name as string,
    ip: (n.enis[0]!.ip as string | undefined) ?? '',
    podCIDR: n.podCIDR as string | undefined,
    as: n.as as number | undefined,
    rack: n.rack as string | undefined,
    enis: n.enis.map((e, i) => ({
      name: e.name as string, vswitch: e.vswitch as string, ip: e.ip as string | undefined, mac: e.mac as string | undefined,
      primary: i === 0, trunk: (e.trunk as boolean | undefined) ?? false, securityGroups: (e.securityGroups as string[] | undefined) ?? [],
    })),
  }));
  const pods: Pod[] = (c.pods ?? []).map((p) => ({
    name: p.name as string, namespace: (p.namespace as string | undefined) ?? 'default', node: p.node as string, ip: p.ip as string,
    eni: p.eni as string | undefined,
    memberEni: p.memberEni ? {
      vlan: (p.memberEni as Raw).vlan as number, vswitch: (p.memberEni as Raw).vswitch as string, mac: (p.memberEni as Raw).mac as string | undefined,
      securityGroups: ((p.memberEni as Raw).securityGroups as string[] | undefined) ?? [],
    } : undefined,
    labels: (p.labels as Record<string, string> | undefined) ?? {},
    listen: (p.listen as number[] | undefined) ?? [],
  }));
  const services: Service[] = (c.services ?? []).map((s) => {
    const selector = (s.selector as Record<string, string> | undefined) ?? {};
    const endpoints = Object.keys(selector).length
      ? pods.filter((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v)).map((p) => p.name)
      : [];
    return {
      name: s.name as string, namespace: (s.namespace as string | undefined) ?? 'default', clusterIP: s.clusterIP as string,
      externalIPs: (s.externalIPs as string[] | undefined) ?? [],
      externalTrafficPolicy: (s.externalTrafficPolicy as 'Cluster' | 'Local' | undefined) ?? 'Cluster',
      selector, endpoints,
      ports: s.ports.map((p) => ({
        name: p.name as string | undefined, protocol: (p.protocol as 'TCP' | 'UDP' | undefined) ?? 'TCP', port: p.port as number,
        targetPort: (p.targetPort as number | undefined) ?? (p.port as number), nodePort: p.nodePort as number | undefined,
      })),
    };
  });
  const dp = c.datapath;
  const sp = c.serviceProxy ?? {};
  const cluster: Cluster = {
    datapath: {
      kind: (dp.kind as Cluster['datapath']['kind'] | undefined) ?? 'eniip',
      legacyIifRule: (dp.legacyIifRule as boolean | undefined) ?? false,
      trunkMode: (dp.trunkMode as 'veth' | 'vlan' | undefined) ?? 'veth',
      inClusterLoadBalance: (dp.inClusterLoadBalance as boolean | undefined) ?? true,
    },
    serviceProxy: {
      kind: (sp.kind as Cluster['serviceProxy']['kind'] | undefined) ?? 'ipvs',
      clusterCIDR: sp.clusterCIDR as string | undefined,
      serviceCIDR: sp.serviceCIDR as string | undefined,
      masqueradeAll: (sp.masqueradeAll as boolean | undefined) ?? false,
      localPolicyFallback: (sp.localPolicyFallback as boolean | undefined) ?? false,
      iptablesFlavor: (sp.iptablesFlavor as 'ext' | 'xlb' | undefined) ?? 'ext',
    },
    vswitches, nodes, pods, services,
    slbs: (c.slbs ?? []).map((s) => ({
      name: s.name as string, vip: s.vip as string, port: s.port as number, dropHairpin: (s.dropHairpin as boolean | undefined) ?? true,
      backends: s.backends.map((b) => ({ pod: b.pod as string, port: (b.port as number | undefined) ?? (s.port as number) })),
    })),
    clients: (c.clients ?? []).map((x) => ({ name: x.name as string, ip: x.ip as string, router: x.router as string | undefined })),
    securityGroups: (c.securityGroups ?? []).map((g) => ({
      name: g.name as string,
      rules: g.rules.map((x) => {
        const ports = x.ports as string | undefined;
        const range = ports ? (ports.split('-').map(Number) as [number] | [number, number]) : undefined;
        return {
          direction: x.direction as 'ingress' | 'egress', action: (x.action as 'accept' | 'drop' | undefined) ?? 'accept',
          protocol: (x.protocol as 'tcp' | 'udp' | 'icmp' | 'all' | undefined) ?? 'all',
          ports: range ? [range[0], range[1] ?? range[0]] as [number, number] : undefined,
          peer: x.group ? { group: x.group as string } : { cidr: (x.cidr as string | undefined) ?? '0.0.0.0/0' },
          priority: (x.priority as number | undefined) ?? 1,
        };
      }),
    })),
    routers: (c.routers ?? []).map((x) => ({
      name: x.name as string, as: x.as as number, ip: x.ip as string, peers: (x.peers as string[] | undefined) ?? [],
      vswitch: x.vswitch as string | undefined,
    })),
  };
  const scenarios: Scenario[] = r.scenarios.map((s) => ({
    id: s.id as string, title: s.title as string, story: s.story as string | undefined,
    datapath: (s.datapath as Scenario['datapath'] | undefined) ?? {},
    serviceProxy: (s.serviceProxy as Scenario['serviceProxy'] | undefined) ?? {},
    securityGroupBindings: s.securityGroupBindings as Record<string, string[]> | undefined,
    endpoints: s.endpoints as Record<string, string[]> | undefined,
    probes: s.probes.map((p, i) => toProbe(p, i)),
  }));
  return { file, family: r.family, title: r.title, source: r.source, cluster, scenarios };
}

function toCapture(x: unknown): CaptureExpect {
  return typeof x === 'string' ? { at: x } : (x as CaptureExpect);
}

function toProbe(p: Raw & { expect?: Raw }, i: number): Probe {
  const e = p.expect ?? {};
  const expect: Expect = {
    reachable: e.reachable as boolean | undefined,
    answeredBy: e.answeredBy as string | undefined,
    seen: ((e.seen as unknown[] | undefined) ?? []).map(toCapture),
    notSeen: ((e.notSeen as unknown[] | undefined) ?? []).map(toCapture),
    addressNeverSeen: (e.addressNeverSeen as string[] | undefined) ?? [],
    path: e.path as string[] | undefined,
    stacks: e.stacks as number | undefined,
    conntrack: (e.conntrack as Expect['conntrack'] | undefined) ?? [],
    ipvs: (e.ipvs as Expect['ipvs'] | undefined) ?? [],
    ebpfLb: (e.ebpfLb as Expect['ebpfLb']) ?? [],
    checksums: e.checksums as boolean | undefined,
    serverSees: e.serverSees as Expect['serverSees'],
    droppedBy: e.droppedBy as Expect['droppedBy'],
    admittedBy: (e.admittedBy as Expect['admittedBy'] | undefined) ?? [],
    distribution: e.distribution as Expect['distribution'],
    iptables: ((e.iptables as Raw[] | undefined) ?? []).map((x) => ({
      node: x.node as string, table: (x.table as 'nat' | 'filter' | 'mangle' | 'raw' | undefined) ?? 'nat',
      path: x.path as string[], probabilities: x.probabilities as number[] | undefined,
    })),
    bgpSessions: (e.bgpSessions as Expect['bgpSessions']) ?? [],
    routes: (e.routes as Expect['routes']) ?? [],
    vethPeer: (e.vethPeer as Expect['vethPeer']) ?? [],
  };
  return {
    name: (p.name as string | undefined) ?? `probe ${i + 1}`,
    from: p.from as string, to: p.to as string, port: p.port as number | undefined,
    backend: p.backend as string | undefined,
    attempts: (p.attempts as number | undefined) ?? (p.backend ? 12 : 1),
    timeoutSeconds: (p.timeoutSeconds as number | undefined) ?? 2,
    connections: p.connections as number | undefined,
    expect,
  };
}

// ---- semantic checks ----------------------------------------------------------------------
function checkSemantics(t: Topology, r: RawTopology, loc: Locator): InputIssue[] {
  const issues: InputIssue[] = [];
  const c = t.cluster;
  const add = (p: PathSeg[], msg: string) => issues.push(loc.issue(p, msg));

  // Every node, pod, vSwitch, SLB, client and router becomes a namespace: names are one space.
  const owner = new Map<string, string>();
  const claim = (name: string, what: string, p: PathSeg[]) => {
    const prev = owner.get(name);
    if (prev) add(p, `name "${name}" is already used by ${prev}`);
    else owner.set(name, what);
  };
  c.vswitches.forEach((v, i) => claim(v.name, `vswitch ${i}`, ['cluster', 'vpc', 'vswitches', i, 'name']));
  c.nodes.forEach((n, i) => claim(n.name, `node ${i}`, ['cluster', 'nodes', i, 'name']));
  c.pods.forEach((p, i) => claim(p.name, `pod ${i}`, ['cluster', 'pods', i, 'name']));
  c.slbs.forEach((s, i) => claim(s.name, `slb ${i}`, ['cluster', 'slbs', i, 'name']));
  c.clients.forEach((s, i) => claim(s.name, `client ${i}`, ['cluster', 'clients', i, 'name']));
  c.routers.forEach((s, i) => claim(s.name, `router ${i}`, ['cluster', 'routers', i, 'name']));
  for (const reserved of ['vpc', 'all']) {
    if (owner.has(reserved)) add(['cluster'], `"${reserved}" is a reserved name (the VPC router / the CLI's --all)`);
  }

  // Addresses: unique across the lab, inside the vSwitch they sit on.
  const ipOwner = new Map<string, string>();
  const claimIp = (ip: string, what: string, p: PathSeg[]) => {
    const prev = ipOwner.get(ip);
    if (prev) add(p, `duplicate IP ${ip}: already used by ${prev}`);
    else ipOwner.set(ip, what);
  };
  const vsw = new Map(c.vswitches.map((v) => [v.name, v]));
  c.vswitches.forEach((v, i) => {
    if (!cidrContains(v.cidr, v.gateway)) add(['cluster', 'vpc', 'vswitches', i, 'gateway'], `gateway ${v.gateway} is not inside ${v.cidr}`);
    claimIp(v.gateway, `vswitch ${v.name} gateway`, ['cluster', 'vpc', 'vswitches', i, 'gateway']);
    for (let j = 0; j < i; j++) {
      if (cidrsOverlap(v.cidr, c.vswitches[j]!.cidr)) add(['cluster', 'vpc', 'vswitches', i, 'cidr'], `${v.cidr} overlaps vswitch ${c.vswitches[j]!.name} (${c.vswitches[j]!.cidr})`);
    }
  });
  c.nodes.forEach((n, i) => {
    const enis = new Set<string>();
    n.enis.forEach((e, j) => {
      const p: PathSeg[] = ['cluster', 'nodes', i, 'enis', j];
      if (enis.has(e.name)) add([...p, 'name'], `duplicate ENI name "${e.name}" on node ${n.name}`);
      enis.add(e.name);
      const v = vsw.get(e.vswitch);
      if (!v) add([...p, 'vswitch'], `unknown vswitch "${e.vswitch}" (known: ${[...vsw.keys()].join(', ')})`);
      if (e.primary && !e.ip) add([...p], 'the primary ENI (the first) needs "ip": the node IP');
      if (!e.primary && e.ip) add([...p, 'ip'], 'only the primary ENI carries an ip; pods take secondary IPs');
      if (e.ip) {
        claimIp(e.ip, `node ${n.name}`, [...p, 'ip']);
        if (v && !cidrContains(v.cidr, e.ip)) add([...p, 'ip'], `${e.ip} is not inside vswitch ${v.name} (${v.cidr})`);
      }
    });
  });
  const nodes = new Map(c.nodes.map((n) => [n.name, n]));
  const pods = new Map(c.pods.map((p) => [p.name, p]));
  c.pods.forEach((p, i) => {
    const path: PathSeg[] = ['cluster', 'pods', i];
    claimIp(p.ip, `pod ${p.name}`, [...path, 'ip']);
    const n = nodes.get(p.node);
    if (!n) {
      add([...path, 'node'], `unknown node "${p.node}"`);
      return;
    }
    if (p.eni) {
      const e = n.enis.find((x) => x.name === p.eni);
      if (!e) add([...path, 'eni'], `node ${n.name} has no ENI "${p.eni}" (has: ${n.enis.map((x) => x.name).join(', ')})`);
      else if (e.primary && c.datapath.kind !== 'calico') add([...path, 'eni'], `pods take secondary ENIs; "${p.eni}" is ${n.name}'s primary ENI`);
      else {
        const v = vsw.get(e.vswitch);
        if (v && !cidrContains(v.cidr, p.ip)) add([...path, 'ip'], `${p.ip} is not inside ${e.name}'s vswitch ${v.name} (${v.cidr})`);
      }
    } else if (p.memberEni) {
      const v = vsw.get(p.memberEni.vswitch);
      if (!v) add([...path, 'memberEni', 'vswitch'], `unknown vswitch "${p.memberEni.vswitch}"`);
      else if (!cidrContains(v.cidr, p.ip)) add([...path, 'ip'], `${p.ip} is not inside member ENI vswitch ${v.name} (${v.cidr})`);
      if (!n.enis.some((e) => e.trunk)) add([...path, 'memberEni'], `node ${n.name} has no trunk ENI (set trunk: true on one ENI)`);
    } else if (['eniip', 'ipvlan'].includes(c.datapath.kind)) {
      add([...path], `the ${c.datapath.kind} datapath needs "eni": the secondary ENI that owns the pod IP`);
    } else if (c.datapath.kind === 'trunk') {
      add([...path], 'the trunk datapath needs "memberEni"');
    } else if (c.datapath.kind === 'calico' && n.podCIDR && !cidrContains(n.podCIDR, p.ip)) {
      add([...path, 'ip'], `${p.ip} is not inside node ${n.name}'s podCIDR ${n.podCIDR}`);
    }
  });
  const vlans = new Map<string, number>();
  c.pods.forEach((p, i) => {
    if (!p.memberEni) return;
    const key = `${p.node}/${p.memberEni.vlan}`;
    if (vlans.has(key)) add(['cluster', 'pods', i, 'memberEni', 'vlan'], `VLAN ${p.memberEni.vlan} already used on node ${p.node} by pod ${c.pods[vlans.get(key)!]!.name}`);
    vlans.set(key, i);
  });
  const svcNames = new Set<string>();
  c.services.forEach((s, i) => {
    const p: PathSeg[] = ['cluster', 'services', i];
    if (svcNames.has(`${s.namespace}/${s.name}`)) add([...p, 'name'], `duplicate service ${s.namespace}/${s.name}`);
    svcNames.add(`${s.namespace}/${s.name}`);
    claimIp(s.clusterIP, `service ${s.name} clusterIP`, [...p, 'clusterIP']);
    if (Object.keys(s.selector).length && !s.endpoints.length) add([...p, 'selector'], `selector ${JSON.stringify(s.selector)} matches no pod`);
    for (const port of s.ports) {
      for (const e of s.endpoints) {
        if (!pods.get(e)!.listen.includes(port.targetPort)) add([...p, 'ports'], `endpoint pod ${e} does not listen on targetPort ${port.targetPort} (add it to the pod's "listen")`);
      }
    }
  });
  const slbVips = new Set<string>();
  c.slbs.forEach((s, i) => {
    if (slbVips.has(s.vip)) add(['cluster', 'slbs', i, 'vip'], `duplicate SLB VIP ${s.vip}`);
    slbVips.add(s.vip);
    s.backends.forEach((b, j) => {
      if (!pods.has(b.pod)) add(['cluster', 'slbs', i, 'backends', j, 'pod'], `unknown pod "${b.pod}"`);
    });
  });
  c.clients.forEach((x, i) => claimIp(x.ip, `client ${x.name}`, ['cluster', 'clients', i, 'ip']));
  const routers = new Map(c.routers.map((x) => [x.name, x]));
  c.clients.forEach((x, i) => {
    if (x.router && !routers.has(x.router)) add(['cluster', 'clients', i, 'router'], `unknown router "${x.router}" (known: ${[...routers.keys()].join(', ') || 'none'})`);
  });
  c.routers.forEach((x, i) => {
    const p: PathSeg[] = ['cluster', 'routers', i];
    x.peers.forEach((peer, j) => {
      if (!routers.has(peer) || peer === x.name) add([...p, 'peers', j], `"${peer}" is not another router`);
    });
    if (x.vswitch) {
      const v = vsw.get(x.vswitch);
      if (!v) add([...p, 'vswitch'], `unknown vswitch "${x.vswitch}"`);
      else if (!cidrContains(v.cidr, x.ip)) add([...p, 'ip'], `${x.ip} is not inside vswitch ${v.name} (${v.cidr}): a top-of-rack router peers from the rack's segment`);
      const other = c.routers.findIndex((y, k) => k < i && y.vswitch === x.vswitch);
      if (other >= 0) add([...p, 'vswitch'], `vswitch ${x.vswitch} is already switched by router ${c.routers[other]!.name}`);
    }
    if (x.vswitch !== undefined || c.nodes.some((n) => n.rack === x.name)) return;
    if (x.peers.length === 0 && !c.routers.some((y) => y.peers.includes(x.name))) add(p, `router ${x.name} peers with nobody`);
  });
  c.nodes.forEach((n, i) => {
    if (!n.rack) return;
    const r = routers.get(n.rack);
    if (!r) add(['cluster', 'nodes', i, 'rack'], `unknown router "${n.rack}"`);
    else if (r.vswitch && r.vswitch !== n.enis[0]!.vswitch) add(['cluster', 'nodes', i, 'rack'], `router ${r.name} switches ${r.vswitch}, but ${n.name}'s primary ENI is on ${n.enis[0]!.vswitch}`);
  });
  const groups = new Set(c.securityGroups.map((g) => g.name));
  c.securityGroups.forEach((g, i) => g.rules.forEach((rule, j) => {
    if ('group' in rule.peer && !groups.has(rule.peer.group)) add(['cluster', 'securityGroups', i, 'rules', j, 'group'], `unknown security group "${rule.peer.group}"`);
    if (rule.ports && rule.ports[0] > rule.ports[1]) add(['cluster', 'securityGroups', i, 'rules', j, 'ports'], `empty port range ${rule.ports.join('-')}`);
  }));
  c.nodes.forEach((n, i) => n.enis.forEach((e, j) => e.securityGroups.forEach((g, k) => {
    if (!groups.has(g)) add(['cluster', 'nodes', i, 'enis', j, 'securityGroups', k], `unknown security group "${g}"`);
  })));
  c.pods.forEach((p, i) => p.memberEni?.securityGroups.forEach((g, k) => {
    if (!groups.has(g)) add(['cluster', 'pods', i, 'memberEni', 'securityGroups', k], `unknown security group "${g}"`);
  }));
  t.scenarios.forEach((s, i) => Object.entries(s.securityGroupBindings ?? {}).forEach(([key, list]) => {
    const [node, eni] = key.split('/');
    const known = eni ? c.nodes.some((n) => n.name === node && n.enis.some((e) => e.name === eni)) : c.pods.some((p) => p.name === key && p.memberEni);
    if (!known) add(['scenarios', i, 'securityGroupBindings', key], `"${key}" is neither NODE/ENI nor a pod with a member ENI`);
    list.forEach((g, k) => { if (!groups.has(g)) add(['scenarios', i, 'securityGroupBindings', key, k], `unknown security group "${g}"`); });
  }));

  // Scenarios: unique ids, references that resolve.
  const ids = new Set<string>();
  t.scenarios.forEach((s, i) => {
    if (ids.has(s.id)) add(['scenarios', i, 'id'], `duplicate scenario id "${s.id}"`);
    ids.add(s.id);
    for (const [svc, list] of Object.entries(s.endpoints ?? {})) {
      if (!c.services.some((x) => x.name === svc)) add(['scenarios', i, 'endpoints', svc], `unknown service "${svc}"`);
      list.forEach((pod, k) => { if (!pods.has(pod)) add(['scenarios', i, 'endpoints', svc, k], `unknown pod "${pod}"`); });
    }
    s.probes.forEach((p, j) => {
      const pp: PathSeg[] = ['scenarios', i, 'probes', j];
      const from = p.from;
      if (!nodes.has(from) && !pods.has(from) && !c.clients.some((x) => x.name === from)) add([...pp, 'from'], `"${from}" is not a node, pod or client`);
      const err = checkAddressRef(p.to, t);
      if (err) add([...pp, 'to'], err);
      if (p.backend && !pods.has(p.backend)) add([...pp, 'backend'], `unknown pod "${p.backend}"`);
      for (const [k, list] of [['seen', p.expect.seen], ['notSeen', p.expect.notSeen]] as const) {
        list.forEach((ce, m) => {
          const e1 = checkIfaceRef(ce.at, t);
          if (e1) add([...pp, 'expect', k, m], e1);
          for (const a of [ce.src, ce.dst]) {
            const e2 = a ? checkAddressRef(a, t) : undefined;
            if (e2) add([...pp, 'expect', k, m], e2);
          }
        });
      }
      const verdicts: [PathSeg[], { group: string; at: string }][] = [
        ...(p.expect.droppedBy ? [[['droppedBy'], p.expect.droppedBy] as [PathSeg[], { group: string; at: string }]] : []),
        ...p.expect.admittedBy.map((x, m) => [['admittedBy', m], x] as [PathSeg[], { group: string; at: string }]),
      ];
      for (const [k, v] of verdicts) {
        const e1 = checkIfaceRef(v.at, t);
        if (e1) add([...pp, 'expect', ...k, 'at'], e1);
        else if (!c.vswitches.some((x) => x.name === v.at.split(':')[0])) add([...pp, 'expect', ...k, 'at'], `"${v.at}" is not a vSwitch port: security groups act at an ENI's port in its vSwitch (VSWITCH:IFNAME, VSWITCH:vlan(POD))`);
        if (!groups.has(v.group)) add([...pp, 'expect', ...k, 'group'], `unknown security group "${v.group}"`);
      }
      (p.expect.path ?? []).forEach((h, m) => {
        const e1 = checkIfaceRef(h, t);
        if (e1) add([...pp, 'expect', 'path', m], e1);
      });
      p.expect.addressNeverSeen.forEach((a, m) => {
        const e1 = checkAddressRef(a, t);
        if (e1) add([...pp, 'expect', 'addressNeverSeen', m], e1);
      });
      p.expect.conntrack.forEach((ct, m) => {
        if (!nodes.has(ct.node)) add([...pp, 'expect', 'conntrack', m, 'node'], `unknown node "${ct.node}"`);
        for (const a of [ct.orig.src, ct.orig.dst, ct.reply?.src, ct.reply?.dst]) {
          const e1 = a ? checkAddressRef(a, t) : undefined;
          if (e1) add([...pp, 'expect', 'conntrack', m], e1);
        }
      });
      const bgpSpeaker = (name: string) => nodes.has(name) || routers.has(name);
      (p.expect.iptables ?? []).forEach((x, m) => {
        if (!nodes.has(x.node)) add([...pp, 'expect', 'iptables', m, 'node'], `unknown node "${x.node}"`);
      });
      (p.expect.bgpSessions ?? []).forEach((x, m) => {
        if (!bgpSpeaker(x.router)) add([...pp, 'expect', 'bgpSessions', m, 'router'], `"${x.router}" is not a router or node`);
        if (x.peer && !bgpSpeaker(x.peer)) add([...pp, 'expect', 'bgpSessions', m, 'peer'], `"${x.peer}" is not a router or node`);
      });
      (p.expect.routes ?? []).forEach((x, m) => {
        const rp: PathSeg[] = [...pp, 'expect', 'routes', m];
        if (!bgpSpeaker(x.router)) add([...rp, 'router'], `"${x.router}" is not a router or node`);
        if (x.learnedFrom && !bgpSpeaker(x.learnedFrom)) add([...rp, 'learnedFrom'], `"${x.learnedFrom}" is not a router or node`);
        const e1 = x.via ? checkAddressRef(x.via, t) : undefined;
        if (e1) add([...rp, 'via'], e1);
        const e2 = x.dev ? checkIfaceRef(`${x.router}:${x.dev}`, t) : undefined;
        if (e2) add([...rp, 'dev'], e2);
      });
      (p.expect.vethPeer ?? []).forEach((x, m) => {
        for (const k of ['at', 'peer'] as const) {
          const e1 = checkIfaceRef(x[k], t);
          if (e1) add([...pp, 'expect', 'vethPeer', m, k], e1);
        }
      });
      (p.expect.ebpfLb ?? []).forEach((v, m) => {
        if (!nodes.has(v.node)) add([...pp, 'expect', 'ebpfLb', m, 'node'], `unknown node "${v.node}"`);
        const e1 = checkAddressRef(v.service, t);
        if (e1) add([...pp, 'expect', 'ebpfLb', m, 'service'], e1);
        v.backends.forEach((b, q) => { if (!pods.has(b)) add([...pp, 'expect', 'ebpfLb', m, 'backends', q], `unknown pod "${b}"`); });
      });
      p.expect.ipvs.forEach((v, m) => {
        if (!nodes.has(v.node)) add([...pp, 'expect', 'ipvs', m, 'node'], `unknown node "${v.node}"`);
        const e1 = checkAddressRef(v.service, t);
        if (e1) add([...pp, 'expect', 'ipvs', m, 'service'], e1);
        v.backends.forEach((b, q) => { if (!pods.has(b)) add([...pp, 'expect', 'ipvs', m, 'backends', q], `unknown pod "${b}"`); });
      });
    });
  });
  void r;
  return issues;
}

// ---- references ---------------------------------------------------------------------------
// Address references: a node, pod or client name (its IP); svc/<name>:clusterIP|externalIP[N];
// slb/<name> (its VIP); a literal IPv4 address.
export function checkAddressRef(ref: string, t: Topology): string | undefined {
  try {
    resolveAddress(ref, t);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface ResolvedAddress {
  ip: string;
  port?: number;
  label: string;
}

export function resolveAddress(ref: string, t: Topology): ResolvedAddress {
  const c = t.cluster;
  if (isIpv4(ref)) return { ip: ref, label: ref };
  const svc = /^svc\/([a-z0-9-]+)(?::(clusterIP|externalIP)(\d*))?$/.exec(ref);
  if (svc) {
    const s = c.services.find((x) => x.name === svc[1]);
    if (!s) throw new Error(`unknown service "${svc[1]}" in "${ref}"`);
    const kind = svc[2] ?? 'clusterIP';
    if (kind === 'clusterIP') return { ip: s.clusterIP, port: s.ports[0]!.port, label: ref };
    const idx = svc[3] ? Number(svc[3]) : 0;
    const ip = s.externalIPs[idx];
    if (!ip) throw new Error(`service "${s.name}" has no externalIPs[${idx}] (in "${ref}")`);
    return { ip, port: s.ports[0]!.port, label: ref };
  }
  const slb = /^slb\/([a-z0-9-]+)$/.exec(ref);
  if (slb) {
    const s = c.slbs.find((x) => x.name === slb[1]);
    if (!s) throw new Error(`unknown slb "${slb[1]}" in "${ref}"`);
    return { ip: s.vip, port: s.port, label: ref };
  }
  const pod = c.pods.find((p) => p.name === ref);
  if (pod) return { ip: pod.ip, port: pod.listen[0], label: ref };
  const node = c.nodes.find((n) => n.name === ref);
  if (node) return { ip: node.ip, label: ref };
  const client = c.clients.find((x) => x.name === ref);
  if (client) return { ip: client.ip, label: ref };
  const router = c.routers.find((x) => x.name === ref);
  if (router) return { ip: router.ip, label: ref };
  throw new Error(`"${ref}" is not an address reference: expected a pod, node or client name, svc/NAME[:clusterIP|:externalIP], slb/NAME or an IPv4 address`);
}

// Interface references: OBJECT:IFNAME, OBJECT:* (any interface of that namespace),
// NODE:cali(POD) (the pod's host veth), NODE:eni(POD) (the ENI that carries the pod),
// NODE:primary (the node's primary ENI), NODE:ipvl(POD) (the host ipvlan slave of the pod's ENI),
// NODE:vlan(POD) (the pod's member-ENI VLAN on the trunk), vpc (any interface of the cloud fabric).
export function checkIfaceRef(ref: string, t: Topology): string | undefined {
  if (ref === 'vpc') return undefined;
  const m = /^([a-z0-9-]+):(\*|[A-Za-z0-9_.-]{1,15}|(cali|eni|ipvl|vlan)\(([a-z0-9-]+)\)|primary)$/.exec(ref);
  if (!m) return `"${ref}" is not an interface reference: expected OBJECT:IFNAME, OBJECT:*, NODE:cali(POD), NODE:eni(POD), NODE:ipvl(POD), NODE:vlan(POD), NODE:primary or vpc (any interface of the cloud fabric)`;
  const obj = m[1]!;
  const c = t.cluster;
  const known = c.nodes.some((n) => n.name === obj) || c.pods.some((p) => p.name === obj) || c.vswitches.some((v) => v.name === obj)
    || c.slbs.some((s) => s.name === obj) || c.clients.some((x) => x.name === obj) || c.routers.some((x) => x.name === obj) || obj === 'vpc';
  if (!known) return `unknown object "${obj}" in "${ref}"`;
  if (m[4] && !c.pods.some((p) => p.name === m[4])) return `unknown pod "${m[4]}" in "${ref}"`;
  return undefined;
}
