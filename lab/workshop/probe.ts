// `lab probe FROM TO[:PORT]`: one ad-hoc probe on a lab that is up, with the evidence walk of a
// scenario probe (captures on every interface, the observed path, the dumps that name each hop's
// decider, conntrack). It is the scenario compiled again for this lab's id with this one probe as
// its only probe (so every name, dump and explanation is the one a scenario probe gets), run on
// the live lab by the path `lab check` takes (./live.ts). It has no expectations: the verdict is
// the evidence's (lab/explain/verdict.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { closest, locateScenario } from '../catalog.ts';
import type { ProbeResult } from '../checks/analyze.ts';
import { compileScenario, type Compiled } from '../compile.ts';
import { dumpFile, type DumpRequest } from '../contract.ts';
import { EXIT, LabError } from '../errors.ts';
import type { Story } from '../explain/story.ts';
import type { LabState } from '../interactive.ts';
import type { Probe, ProbeProtocol, Scenario, Topology } from '../model.ts';
import { nsName } from '../names.ts';
import { parseConntrack } from '../evidence/conntrack.ts';
import { resolveAddress } from '../topology/refs.ts';
import { probeLive } from './live.ts';

const usage = (msg: string) => new LabError(msg, EXIT.usage);

/** What the user asked for, checked against the lab's topology. */
export interface ProbeRequest {
  from: string;
  to: string;
  port: number;
  protocol: ProbeProtocol;
}

export interface ProbeRun {
  probe?: ProbeResult;
  story?: Story;
  /** Each conntrack entry of this probe's connection, per namespace that tracks connections. */
  conntrack: { object: string; entries: string[] }[];
  probeMs: number;
  error?: string;
  pcap?: string;
}

const SENDERS = new Set(['pod', 'node', 'client']);

/** FROM: an object of the lab a probe can leave from (a pod, node or client), else exit 2 with the nearest names. */
export function checkFrom(s: LabState, from: string): string {
  const senders = s.objects.filter((o) => SENDERS.has(o.kind)).map((o) => o.object);
  if (senders.includes(from)) return from;
  const other = s.objects.find((o) => o.object === from);
  if (other) throw usage(`probe: FROM "${from}" is a ${other.kind} of lab ${s.labId}; a probe leaves from a pod, node or client (${senders.join(', ')})`);
  const near = closest(from, senders);
  throw usage(`probe: lab ${s.labId} (${s.scenario}) has no pod, node or client "${from}"${near.length ? `: did you mean ${near.map((x) => `"${x}"`).join(' or ')}?` : ''} (has: ${senders.join(', ')})`);
}

/** Every address reference the topology knows, for "did you mean". */
function addressRefs(topo: Topology): string[] {
  const c = topo.cluster;
  return [
    ...c.pods.map((p) => p.name), ...c.nodes.map((n) => n.name), ...c.clients.map((x) => x.name), ...c.routers.map((x) => x.name),
    ...c.services.flatMap((s) => [`svc/${s.name}`, `svc/${s.name}:clusterIP`, ...s.externalIPs.map((_, i) => `svc/${s.name}:externalIP${i || ''}`)]),
    ...c.slbs.map((x) => `slb/${x.name}`),
  ];
}

/** TO[:PORT] → the address reference and the port (the target's obvious one when not given). */
export function parseTarget(topo: Topology, target: string, protocol?: ProbeProtocol): { to: string; port: number; protocol: ProbeProtocol } {
  const m = /^(.*):([0-9]+)$/.exec(target);
  const to = m ? m[1]! : target;
  let port: number | undefined;
  if (m) {
    port = Number(m[2]);
    if (!/^[0-9]{1,5}$/.test(m[2]!) || port < 1 || port > 65535) throw usage(`probe: "${target}": port ${m[2]} is not a port (1 to 65535)`);
  }
  let resolved;
  try {
    resolved = resolveAddress(to, topo);
  } catch (e) {
    const near = closest(to, addressRefs(topo));
    throw usage(`probe: TO "${to}": ${(e as Error).message}${near.length ? `; did you mean ${near.map((x) => `"${x}"`).join(' or ')}?` : ''}`);
  }
  port ??= resolved.port;
  if (port === undefined) throw usage(`probe: TO "${to}" has no obvious port (only a service, an SLB or a pod that listens has one): give it as ${to}:PORT`);
  return { to, port, protocol: protocol ?? serviceProtocol(topo, to, port) };
}

/** A service port's protocol when TO is a service with that port (its first such port: kube-dns's
 *  53 is UDP before TCP as the Service lists it), else TCP; --protocol chooses otherwise. */
function serviceProtocol(topo: Topology, to: string, port: number): ProbeProtocol {
  const name = /^svc\/([a-z0-9-]+)/.exec(to)?.[1];
  const sp = topo.cluster.services.find((x) => x.name === name)?.ports.find((x) => x.port === port);
  return sp ? (sp.protocol.toLowerCase() as ProbeProtocol) : 'tcp';
}

/** The scenario compiled for this lab with REQ as its only probe (id pN with N from `seq`, so that
 *  its source ports differ from the scenario's probes and from the previous ad-hoc probe's). */
export function compileProbe(topo: Topology, scenario: Scenario, labId: string, req: ProbeRequest, seq: number): Compiled {
  const probe: Probe = {
    name: 'lab probe', from: req.from, to: req.to, port: req.port, protocol: req.protocol, attempts: 1, timeoutSeconds: 2,
    expect: { admittedBy: [], seen: [], notSeen: [], addressNeverSeen: [], conntrack: [], ipvs: [] },
  };
  const compiled = compileScenario(topo, { ...scenario, probes: [probe] }, labId);
  const spec = compiled.probes[0]!;
  spec.index = seq;
  spec.id = `p${seq}`;
  // conntrack where netfilter tracks connections (iptables or IPVS in that namespace): where the connection was NATed.
  const tracking = [...new Set(compiled.plan.steps.filter((st) => (st.tool === 'iptables' || st.tool === 'ipvs') && st.object).map((st) => st.object!))];
  for (const o of tracking) addDump(spec.dumps, { kind: 'conntrack', object: o });
  return compiled;
}

function addDump(list: DumpRequest[], d: DumpRequest): void {
  if (!list.some((x) => x.kind === d.kind && x.object === d.object)) list.push(d);
}

/** The next ad-hoc probe number of this lab: 100…249 in turn (source ports 50000–64999; the
 *  scenario's probes use lines 1…99). */
function nextSeq(s: LabState): number {
  const f = path.join(s.jobDir, 'probe-seq');
  const last = existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
  const seq = Number.isInteger(last) && last >= 100 && last < 249 ? last + 1 : 100;
  writeFileSync(f, `${seq}\n`);
  return seq;
}

/** The conntrack entries of this probe's connection (its source ports) in each tracking namespace. */
function conntrackOf(s: LabState, compiled: Compiled, probe: ProbeResult): ProbeRun['conntrack'] {
  const spec = compiled.probes[0]!;
  const sports = new Set(probe.attempts.map((a) => a.sport));
  const out: ProbeRun['conntrack'] = [];
  for (const d of spec.dumps.filter((x) => x.kind === 'conntrack')) {
    const f = path.join(s.jobDir, 'out', 'dump', dumpFile(spec.id, 'conntrack', nsName(s.labId, d.object)));
    if (!existsSync(f)) continue;
    const entries = parseConntrack(readFileSync(f, 'utf8')).filter((e) => sports.has(e.orig.sport ?? -1) || sports.has(e.reply.dport ?? -1)).map((e) => e.raw);
    if (entries.length) out.push({ object: d.object, entries });
  }
  return out;
}

export async function probeLab(s: LabState, from: string, target: string, pcap?: string, protocol?: ProbeProtocol): Promise<ProbeRun> {
  const { topo, scenario } = locateScenario(s.scenario, s.file);
  const req = { from: checkFrom(s, from), ...parseTarget(topo, target, protocol) };
  const compiled = compileProbe(topo, scenario, s.labId, req, nextSeq(s));
  const run = await probeLive(s, topo, compiled, pcap);
  const probe = run.probes[0];
  return { probe, story: run.stories[0], conntrack: probe ? conntrackOf(s, compiled, probe) : [], probeMs: run.probeMs, error: run.error, pcap: run.pcap };
}
