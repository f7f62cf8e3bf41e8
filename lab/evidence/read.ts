// Evidence: everything a run left in the job's out/ folder, read once — the lab's captures
// (one pcapng stream, or one tcpdump text per namespace), the probe results, the state dumps (by file name), bulk results, the agent's
// event log — and the lookups the checks use to find one dump.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { dumpFile, type ProbeSpec } from '../contract.ts';
import type { Plan } from '../plan.ts';
import { packetsFromPcapng } from './pcapng.ts';
import { parseTcpdump, type Packet } from './tcpdump.ts';

export interface Evidence {
  packets: Packet[];
  probesOut: string;
  dumps: Map<string, string>; // file name → text
  bulk: Map<string, string>;
  events: string;
}

export function readEvidence(jobDir: string, plan: Plan): Evidence {
  const out = path.join(jobDir, 'out');
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const packets: Packet[] = [];
  const pcapng = path.join(out, 'capture.pcapng');
  if (existsSync(pcapng)) packets.push(...packetsFromPcapng(readFileSync(pcapng)));
  else for (const n of plan.namespaces) packets.push(...parseTcpdump(read(path.join(out, 'capture', `${n.ns}.txt`)), n.object));
  packets.sort((a, b) => a.ts - b.ts);
  const dumps = new Map<string, string>();
  const dumpDir = path.join(out, 'dump');
  if (existsSync(dumpDir)) for (const f of readdirSync(dumpDir)) dumps.set(f, read(path.join(dumpDir, f)));
  const bulk = new Map<string, string>();
  if (existsSync(out)) for (const f of readdirSync(out).filter((x) => x.startsWith('bulk-'))) bulk.set(f, read(path.join(out, f)));
  return { packets, probesOut: read(path.join(out, 'probes.out')), dumps, bulk, events: read(path.join(out, 'events.tsv')) };
}

export function nsOf(plan: Plan, object: string): string {
  return plan.namespaces.find((n) => n.object === object)?.ns ?? `<no namespace ${object}>`;
}

/** The dump of KIND the agent took in OBJECT's namespace right after probe `probeId`. */
export function probeDump(ev: Evidence, plan: Plan, probeId: string, kind: string, object: string): string | undefined {
  return ev.dumps.get(dumpFile(probeId, kind, nsOf(plan, object)));
}

/** The probe's dump of KIND in OBJECT, else the one taken after all probes. */
export function dumpText(ev: Evidence, plan: Plan, probeId: string, kind: string, object: string): string | undefined {
  return probeDump(ev, plan, probeId, kind, object) ?? probeDump(ev, plan, 'final', kind, object);
}

/** The dump of KIND in OBJECT taken after the latest probe before `spec`: for cumulative
 *  counters, `spec`'s baseline. For the first probe, the dump taken before any probe on a lab that
 *  is up (`lab check`, `lab probe`: its counters already hold earlier traffic), else undefined
 *  (a fresh build: counters start at zero). */
export function earlierDump(ev: Evidence, plan: Plan, probes: ProbeSpec[], spec: ProbeSpec, kind: string, object: string): string | undefined {
  const earlier = probes.filter((p) => p.index < spec.index).sort((a, b) => b.index - a.index);
  for (const p of earlier) {
    const t = probeDump(ev, plan, p.id, kind, object);
    if (t !== undefined) return t;
  }
  return probeDump(ev, plan, BASELINE, kind, object);
}

/** The probe id of the dumps taken before the probes (JOB/baseline.tsv, lab/runners/agent/probe.sh). */
export const BASELINE = 'baseline';
