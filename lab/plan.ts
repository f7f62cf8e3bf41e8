// The plan: everything a build does, as data. Compilers (datapaths, services, fabric) add to
// a PlanBuilder; compile() groups the work into one batch per namespace per tool and phase —
// a process per namespace per tool, never a process per rule (inside UML a process costs
// 25-230 ms). The plan is printable (`lab plan`), testable without root, and applied by the
// agent (lab/runners/agent.sh) in whichever kernel the runner chose.
import type { ObjectKind } from './model.ts';
import { fitIfname, nsName } from './names.ts';

/** Build phases, in execution order. Within a phase, namespaces keep declaration order. */
export const PHASES = [
  'netns', // ip netns add (one batch for all)
  'sysctl', // namespace defaults, before links exist so new links inherit them
  'link', // link creation (veth pairs across namespaces, ipvlan, vlan, dummy)
  'config', // addresses, link up, routes, rules, neighbours
  'tc', // qdiscs and filters
  'sysctl-if', // per-interface sysctls (need the links)
  // Routing daemons (BIRD) as soon as links and addresses exist: a BGP session comes up no sooner
  // than ~1 s after its speaker starts (BIRD 2 waits at least a second before its first connect,
  // bgp.c bgp_start_active: MAX(1, connect delay time)), so that wait runs while the packet filters
  // load, as calico-node and kube-proxy start independently on a real node.
  'routing',
  // Pod servers likewise: a server needs only its namespace, and its start-up (one dlpod binding a
  // socket in every pod, ~0.1 s under UML) then runs while the packet filters load instead of
  // after the build (the probes wait until each listens).
  'daemon',
  'ipset',
  'iptables',
  'ipvs',
  'exec', // single commands (bpftool, map updates)
  'wait', // bounded waits for daemons (files, sessions)
] as const;
export type Phase = (typeof PHASES)[number];

export type Tool = 'netns' | 'ip' | 'tc' | 'sysctl' | 'iptables' | 'ipset' | 'ipvs' | 'exec' | 'nsenter' | 'host' | 'daemon' | 'waitfile' | 'waitbgp';

export interface NamespaceDecl {
  object: string;
  kind: ObjectKind;
  ns: string; // the kernel's netns name
}

export type IfaceKind = 'veth' | 'ipvlan' | 'vlan' | 'dummy' | 'bridge';
export interface IfaceDecl {
  object: string;
  name: string;
  ifindex: number;
  kind: IfaceKind;
  mac?: string;
  peer?: { object: string; name: string };
  parent?: string; // ipvlan / vlan parent in the same namespace
  /** 802.1Q VLAN id of a vlan interface (its parent may live in another namespace). */
  vid?: number;
  /** A vlan interface's parent, wherever the child lives: "object/ifname". */
  lower?: string;
  /** Symbolic names this interface answers to, e.g. "cali(nginx-a)", "eni(centos)", "primary". */
  aliases: string[];
}

export type PacketDir = 'In' | 'Out';
/** A hop the capture walk may take from (object, ifname, dir) to (object, ifname, dir). */
export interface WireEdge {
  from: { object: string; name: string; dir: PacketDir };
  to: { object: string; name: string; dir: PacketDir };
}

export interface Step {
  phase: Phase;
  object: string | null; // null: the agent's own (root) context — only for netns add and host-only tools
  tool: Tool;
  /** Batch tools: the lines of the batch file. */
  lines?: string[];
  /** exec/nsenter/host/daemon: the argv. */
  argv?: string[];
  name?: string; // daemon name
  /** A pod server (a daemon with this set): what it answers; `argv` is its socat form. */
  server?: PodServer;
  comment?: string;
}

/** A pod's server: on `port` over `proto`, every connection or datagram gets `file`'s bytes. */
export interface PodServer {
  proto: 'tcp' | 'udp' | 'sctp';
  port: number;
  file: string; // `@JOB@/files/…`
}

export interface Plan {
  labId: string;
  namespaces: NamespaceDecl[];
  interfaces: IfaceDecl[];
  edges: WireEdge[];
  steps: Step[];
  files: Record<string, string>; // job-relative path → content
  modules: string[]; // kernel modules the compilers asked for; compile adds its features' (lab/features.ts)
  features: Set<string>; // kernel features, probed before a native run
  /** Namespaces whose state is dumped after the probes: kind → objects. */
  dumps: { kind: string; object: string }[];
  notes: string[];
}

/** The file a batch step reads, relative to the job dir. */
export function stepFile(step: Step, index: number): string {
  return `files/${String(index).padStart(3, '0')}-${step.object ?? 'root'}-${step.phase}.${step.tool}`;
}

export class PlanBuilder {
  readonly labId: string;
  private readonly nss: NamespaceDecl[] = [];
  private readonly ifaces: IfaceDecl[] = [];
  private readonly edges: WireEdge[] = [];
  private readonly batches = new Map<string, Step>(); // phase|object|tool → step
  private readonly order: Step[] = [];
  private readonly files: Record<string, string> = {};
  private readonly modules = new Set<string>();
  private readonly features = new Set<string>();
  private readonly nextIndex = new Map<string, number>();
  private readonly dumps: { kind: string; object: string }[] = [];
  private readonly notes: string[] = [];

  constructor(labId: string) {
    this.labId = labId;
  }

  ns(object: string): string {
    return nsName(this.labId, object);
  }

  namespace(object: string, kind: ObjectKind): void {
    if (this.nss.some((n) => n.object === object)) throw new Error(`namespace for ${object} declared twice`);
    this.nss.push({ object, kind, ns: this.ns(object) });
    this.nextIndex.set(object, 2); // ifindex 1 is lo
    this.batch('netns', null, 'netns').push(`netns add ${this.ns(object)}`);
    this.batch('config', object, 'ip').push('link set lo up');
  }

  kindOf(object: string): ObjectKind | undefined {
    return this.nss.find((n) => n.object === object)?.kind;
  }

  /** Lines of the batch for (phase, object, tool), created on first use. */
  batch(phase: Phase, object: string | null, tool: Tool): string[] {
    const key = `${phase}|${object}|${tool}`;
    let s = this.batches.get(key);
    if (!s) {
      s = { phase, object, tool, lines: [] };
      this.batches.set(key, s);
      this.order.push(s);
    }
    return s.lines!;
  }

  ip(object: string, ...lines: string[]): void {
    this.batch('config', object, 'ip').push(...lines);
  }

  tc(object: string, ...lines: string[]): void {
    this.batch('tc', object, 'tc').push(...lines);
  }

  /** Namespace-wide sysctls (phase 'sysctl', before any link exists) or per-interface ones. */
  sysctl(object: string, key: string, value: string | number, perInterface = false): void {
    this.batch(perInterface ? 'sysctl-if' : 'sysctl', object, 'sysctl').push(`${key} = ${value}`);
  }

  iptables(object: string, payload: string): void {
    this.batch('iptables', object, 'iptables').push(payload.trimEnd());
  }

  ipset(object: string, payload: string): void {
    this.batch('ipset', object, 'ipset').push(payload.trimEnd());
  }

  ipvs(object: string, payload: string): void {
    this.batch('ipvs', object, 'ipvs').push(payload.trimEnd());
  }

  exec(object: string | null, argv: string[], comment?: string, tool: 'exec' | 'nsenter' | 'host' = 'exec', phase: Phase = 'exec'): void {
    this.order.push({ phase, object, tool: object === null ? 'host' : tool, argv, comment });
  }

  /** A routing daemon (BIRD), started in phase 'routing'. */
  daemon(object: string, name: string, argv: string[], comment?: string): void {
    this.order.push({ phase: 'routing', object, tool: 'daemon', name, argv, comment });
  }

  /**
   * A pod server: the agent serves every pod server of the lab from one dlpod process
   * (lab/runners/native/dlpod.c) and falls back to this step's socat daemon (`argv`) without it.
   */
  server(object: string, name: string, server: PodServer, argv: string[]): void {
    this.order.push({ phase: 'daemon', object, tool: 'daemon', name, argv, server });
  }

  waitFile(relPath: string, seconds: number, comment?: string): void {
    this.order.push({ phase: 'wait', object: null, tool: 'waitfile', argv: [relPath, String(seconds)], comment });
  }

  /**
   * Bounded wait for a BIRD in `object`'s namespace: every BGP protocol Established (birdc on the
   * control socket) and each of `prefixes` in the namespace's main routing table.
   */
  waitBgp(object: string, socket: string, seconds: number, prefixes: string[], comment?: string): void {
    this.order.push({ phase: 'wait', object, tool: 'waitbgp', argv: [socket, String(seconds), ...prefixes], comment });
  }

  /** Adds a file to the job; returns the path the agent substitutes (`@JOB@/…`). */
  file(name: string, content: string): string {
    const rel = `files/${name}`;
    this.files[rel] = content;
    return `@JOB@/${rel}`;
  }

  module(...names: string[]): void {
    for (const n of names) this.modules.add(n);
  }

  feature(...names: string[]): void {
    for (const n of names) this.features.add(n);
  }

  dump(kind: string, object: string): void {
    if (!this.dumps.some((d) => d.kind === kind && d.object === object)) this.dumps.push({ kind, object });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  private allocIndex(object: string): number {
    const i = this.nextIndex.get(object);
    if (i === undefined) throw new Error(`no namespace declared for ${object}`);
    this.nextIndex.set(object, i + 1);
    return i;
  }

  private addIface(d: Omit<IfaceDecl, 'ifindex' | 'aliases'> & { aliases?: string[] }): IfaceDecl {
    if (this.ifaces.some((x) => x.object === d.object && x.name === d.name)) {
      throw new Error(`interface ${d.name} declared twice in ${d.object}`);
    }
    const decl: IfaceDecl = { ...d, ifindex: this.allocIndex(d.object), aliases: d.aliases ?? [] };
    this.ifaces.push(decl);
    return decl;
  }

  /**
   * A veth pair from `a` to `b`, created directly in both namespaces (never in the root
   * namespace) with fixed ifindexes, so tables like 1000+ifindex are known at plan time.
   */
  veth(a: { object: string; name: string; mac?: string; aliases?: string[] }, b: { object: string; name: string; mac?: string; aliases?: string[] }): [IfaceDecl, IfaceDecl] {
    const da = this.addIface({ object: a.object, name: a.name, kind: 'veth', mac: a.mac, peer: { object: b.object, name: b.name }, aliases: a.aliases });
    const db = this.addIface({ object: b.object, name: b.name, kind: 'veth', mac: b.mac, peer: { object: a.object, name: a.name }, aliases: b.aliases });
    const mac = (m?: string) => (m ? ` address ${m}` : '');
    this.batch('link', a.object, 'ip').push(
      `link add ${a.name} index ${da.ifindex}${mac(a.mac)} type veth peer name ${b.name} netns ${this.ns(b.object)} index ${db.ifindex}${mac(b.mac)}`,
    );
    this.feature('veth');
    this.edges.push(
      { from: { object: a.object, name: a.name, dir: 'Out' }, to: { object: b.object, name: b.name, dir: 'In' } },
      { from: { object: b.object, name: b.name, dir: 'Out' }, to: { object: a.object, name: a.name, dir: 'In' } },
    );
    return [da, db];
  }

  /** A Linux bridge (a layer-2 switch) in `object`'s namespace; ports join it with `link set P master B`. */
  bridge(object: string, name: string, mac?: string, aliases: string[] = []): IfaceDecl {
    const d = this.addIface({ object, name, kind: 'bridge', mac, aliases });
    this.batch('link', object, 'ip').push(`link add ${name} index ${d.ifindex}${mac ? ` address ${mac}` : ''} type bridge`);
    this.feature('bridge');
    return d;
  }

  dummy(object: string, name: string): IfaceDecl {
    const d = this.addIface({ object, name, kind: 'dummy' });
    this.batch('link', object, 'ip').push(`link add ${name} index ${d.ifindex} type dummy`);
    this.feature('dummy');
    return d;
  }

  /** An ipvlan slave of `parent`; `slaveObject` may be another namespace (the pod). */
  ipvlan(object: string, parent: string, slaveObject: string, name: string, mode: 'l2' | 'l3' | 'l3s', flags = '', aliases: string[] = []): IfaceDecl {
    const d = this.addIface({ object: slaveObject, name, kind: 'ipvlan', parent: slaveObject === object ? parent : undefined, aliases });
    const where = slaveObject === object ? '' : ` netns ${this.ns(slaveObject)}`;
    // As for vlan(): rtnetlink checks an explicit index or name in the calling namespace, so a
    // slave made straight into another namespace gets a temporary name there and the index that
    // namespace allocates next (the planned one: its first device after lo, checked), then is
    // renamed — Terway creates it as its PreName and renames it eth0 the same way.
    const made = slaveObject === object ? name : fitIfname(`${slaveObject}.ipvl`, 'i');
    if (slaveObject !== object && d.ifindex !== 2) throw new Error(`ipvlan ${slaveObject}:${name} must be the first interface of ${slaveObject}`);
    const index = slaveObject === object ? ` index ${d.ifindex}` : '';
    this.batch('link', object, 'ip').push(`link add link ${parent} name ${made}${index}${where} type ipvlan mode ${mode}${flags ? ` ${flags}` : ''}`);
    if (made !== name) this.batch('config', slaveObject, 'ip').push(`link set ${made} name ${name}`);
    this.feature('ipvlan');
    // Slave transmit leaves through the parent (seen Out on it); frames for the slave arrive In on the parent first.
    this.edges.push(
      { from: { object: slaveObject, name, dir: 'Out' }, to: { object, name: parent, dir: 'Out' } },
      { from: { object, name: parent, dir: 'In' }, to: { object: slaveObject, name, dir: 'In' } },
    );
    for (const sib of this.ifaces.filter((x) => x.kind === 'ipvlan' && x !== d && this.ipvlanParent(x) === `${object}/${parent}`)) {
      this.edges.push(
        { from: { object: slaveObject, name, dir: 'Out' }, to: { object: sib.object, name: sib.name, dir: 'In' } },
        { from: { object: sib.object, name: sib.name, dir: 'Out' }, to: { object: slaveObject, name, dir: 'In' } },
      );
    }
    this.ipvlanParents.set(`${slaveObject}/${name}`, `${object}/${parent}`);
    return d;
  }
  private readonly ipvlanParents = new Map<string, string>();
  private ipvlanParent(x: IfaceDecl): string | undefined {
    return this.ipvlanParents.get(`${x.object}/${x.name}`);
  }

  /**
   * An 802.1Q sub-interface of `parent`; `subObject` may be another namespace (the pod).
   * `phase` 'config' when `parent` is the peer end of a veth another namespace's link batch
   * creates later (a trunk ENI's port in its vSwitch): config runs after every link batch.
   */
  vlan(object: string, parent: string, vid: number, subObject: string, name: string, mac?: string, aliases: string[] = [], phase: 'link' | 'config' = 'link'): IfaceDecl {
    const d = this.addIface({ object: subObject, name, kind: 'vlan', mac, parent: subObject === object ? parent : undefined, vid, lower: `${object}/${parent}`, aliases });
    const where = subObject === object ? '' : ` netns ${this.ns(subObject)}`;
    // rtnetlink looks an explicit index or name up in the *calling* namespace first (EEXIST when
    // the node has its own eth0 or ifindex): a VLAN created straight into another namespace is
    // made as `<parent>.<vid>` with the index that namespace allocates next — the planned one,
    // as it is that namespace's first device after lo (checked) — then renamed there, as
    // Terway's vlan driver does.
    const made = subObject === object ? name : fitIfname(`${parent}.${vid}`, 'v');
    if (subObject !== object && d.ifindex !== 2) throw new Error(`vlan ${subObject}:${name} must be the first interface of ${subObject}`);
    const index = subObject === object ? ` index ${d.ifindex}` : '';
    this.batch(phase, object, 'ip').push(`link add link ${parent} name ${made}${index}${where}${mac ? ` address ${mac}` : ''} type vlan id ${vid}`);
    // (Down first: bringing the parent up has brought its VLANs up, and a running device cannot be renamed.)
    if (made !== name) this.batch('config', subObject, 'ip').push(`link set ${made} down`, `link set ${made} name ${name}`);
    this.feature('vlan');
    this.edges.push(
      { from: { object: subObject, name, dir: 'Out' }, to: { object, name: parent, dir: 'Out' } },
      { from: { object, name: parent, dir: 'In' }, to: { object: subObject, name, dir: 'In' } },
    );
    return d;
  }

  /** An extra hop the capture walk may take (e.g. a tc mirred redirect). */
  edge(e: WireEdge): void {
    this.edges.push(e);
  }

  alias(object: string, name: string, alias: string): void {
    const d = this.ifaces.find((x) => x.object === object && x.name === name);
    if (!d) throw new Error(`alias for unknown interface ${object}:${name}`);
    d.aliases.push(alias);
  }

  iface(object: string, name: string): IfaceDecl | undefined {
    return this.ifaces.find((x) => x.object === object && x.name === name);
  }

  build(): Plan {
    const rank = (p: Phase) => PHASES.indexOf(p);
    // Stable sort by phase; inside a phase, the order in which the compilers asked.
    const steps = this.order
      .map((s, i) => ({ s, i }))
      .sort((x, y) => rank(x.s.phase) - rank(y.s.phase) || x.i - y.i)
      .map((x) => x.s)
      .filter((s) => !s.lines || s.lines.length > 0)
      .map((s) => (s.tool === 'iptables' ? { ...s, lines: mergeRestoreTables(s.lines!) } : s));
    return {
      labId: this.labId,
      namespaces: [...this.nss],
      interfaces: [...this.ifaces],
      edges: [...this.edges],
      steps,
      files: { ...this.files },
      modules: [...this.modules],
      features: new Set(this.features),
      dumps: [...this.dumps],
      notes: [...this.notes],
    };
  }
}

/**
 * iptables-restore flushes a table when its `*table` section starts: two compilers writing the
 * same table of one namespace (a datapath's masquerade, the service proxy's chains) would leave
 * only the last. Payloads that share a table become one section — chain declarations first (each
 * once), then every payload's rules in the order the compilers added them. A table written once
 * is left as it was.
 */
export function mergeRestoreTables(payloads: string[]): string[] {
  const sections = payloads.flatMap((p) => p.split(/^(?=\*)/m).filter((x) => x.trim()));
  const tables = sections.map((x) => x.split('\n', 1)[0]!.trim());
  if (new Set(tables).size === tables.length) return payloads;
  const merged = new Map<string, { chains: string[]; rules: string[] }>();
  sections.forEach((sec, i) => {
    const m = merged.get(tables[i]!) ?? { chains: [], rules: [] };
    merged.set(tables[i]!, m);
    for (const line of sec.split('\n').slice(1)) {
      if (!line.trim() || line.trim() === 'COMMIT') continue;
      if (line.startsWith(':')) {
        const name = line.slice(1).split(' ')[0];
        if (!m.chains.some((c) => c.slice(1).split(' ')[0] === name)) m.chains.push(line);
      } else m.rules.push(line);
    }
  });
  return [...merged].map(([table, m]) => [table, ...m.chains, ...m.rules, 'COMMIT'].join('\n'));
}
