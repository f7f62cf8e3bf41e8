// What a check kind is: the expectations of one kind in a probe's `expect`, paired — like
// netlab's validate plugins — with the evidence that answers them (the dumps the agent takes)
// and the test that judges that evidence. lab/checks/registry.ts lists the kinds.
import type { DumpRequest, ProbeSpec } from '../contract.ts';
import type { Evidence } from '../evidence/read.ts';
import type { Packet } from '../evidence/tcpdump.ts';
import type { Expect, ObjectKind, Probe, Topology } from '../model.ts';
import type { Plan } from '../plan.ts';

export interface Check {
  name: string;
  expected: string;
  observed: string;
  passed: boolean;
  evidence: string[];
}

export interface Attempt {
  n: number;
  t0: number;
  t1: number;
  rc: number;
  reply: string;
  sport: number;
}

export interface Hop {
  object: string;
  kind: ObjectKind | 'unknown';
  ifname: string;
  dir: 'In' | 'Out';
  src: string;
  dst: string;
  vlan?: number;
  label: string; // "obj:ifname" with the alias when there is one
}

/** What every check of one probe may read. */
export interface ProbeContext {
  topo: Topology;
  plan: Plan;
  probes: ProbeSpec[]; // every probe of the scenario: cumulative counters take an earlier one's dump as baseline
  ev: Evidence;
  spec: ProbeSpec;
  answeredBy?: string;
}

/** What the captures and the attempts of a single-connection probe showed. */
export interface Traffic {
  attempts: Attempt[];
  attemptLines: string[]; // one line per attempt, the evidence of reachability
  chosen?: Attempt; // the attempt the path is traced for
  window: Packet[]; // every packet captured in the probe's time window
  request: Packet[]; // the chosen attempt's SYN wherever it was captured (NAT keeps its sequence number)
  reply: Packet[]; // its SYN-ACK
  path: Hop[];
  replyPath: Hop[];
  stacks: Set<string>; // nodes and pods whose IP stack handled the request
  pathEvidence: string[];
  reachable: boolean;
}

/** The connections of a bulk probe: how many were made, answered, and by whom. */
export interface BulkCount {
  total: number;
  answered: number;
  perBackend: Record<string, number>;
}

/** The kinds of reference an expectation names, each validated when the topology file loads. */
export type RefKind = 'address' | 'iface' | 'node' | 'pod' | 'bgpSpeaker' | 'vswitchPort' | 'securityGroup';

export interface RefUse {
  path: (string | number)[]; // under the probe: ['expect', 'conntrack', 0, 'node']
  kind: RefKind;
  ref: string;
}

export interface CheckKind {
  /** The `expect` fields this kind judges. */
  fields: readonly (keyof Expect)[];
  /** Every reference the probe's expectations of this kind use. */
  references?(e: Expect): RefUse[];
  /** The dumps the agent takes right after this probe, for this kind's expectations. */
  dumps?(p: Probe): DumpRequest[];
  /** Dumps every probe of the scenario takes once one probe has such an expectation (cumulative
   *  counters: a probe's share is its dump minus the previous probe's). */
  everyProbe?(probes: Probe[]): DumpRequest[];
  /** Dumps taken once, after all probes (state that does not change from probe to probe). */
  finalDumps?(p: Probe): DumpRequest[];
  /** Judges a single-connection probe from its traffic. */
  judge?(c: ProbeContext, t: Traffic): Check[];
  /** Judges a bulk probe from its connection counts. */
  judgeBulk?(c: ProbeContext, b: BulkCount): Check[];
  /** Judges from the state dumps only: runs for single and bulk probes alike. */
  judgeState?(c: ProbeContext): Check[];
}
