// Every check kind, one line each. The order is the order a probe's checks are reported in.
// A new kind: one file in this folder exporting a CheckKind (lab/checks/types.ts), one line here.
import type { DumpRequest } from '../contract.ts';
import type { Probe } from '../model.ts';
import { addressNeverSeen } from './address-never-seen.ts';
import { answeredBy } from './answered-by.ts';
import { bgpSessions } from './bgp-sessions.ts';
import { capture } from './capture.ts';
import { checksums } from './checksum.ts';
import { conntrack } from './conntrack.ts';
import { distribution } from './distribution.ts';
import { ebpfLb } from './ebpf-lb.ts';
import { ipvs } from './ipvs.ts';
import { iptables } from './iptables.ts';
import { path } from './path.ts';
import { reachable } from './reachable.ts';
import { routes } from './routes.ts';
import { serverSees } from './server-sees.ts';
import { sgVerdict } from './sg-verdict.ts';
import { stacks } from './stacks.ts';
import type { CheckKind } from './types.ts';
import { vethPeer } from './veth-peer.ts';

export const CHECK_KINDS: readonly CheckKind[] = [
  reachable,
  answeredBy,
  distribution,
  capture,
  addressNeverSeen,
  path,
  stacks,
  serverSees,
  conntrack,
  ipvs,
  ebpfLb,
  checksums,
  iptables,
  bgpSessions,
  routes,
  vethPeer,
  sgVerdict,
];

function addUnique(out: DumpRequest[], list: DumpRequest[]): void {
  for (const d of list) if (!out.some((x) => x.kind === d.kind && x.object === d.object)) out.push(d);
}

/** The dumps the agent takes right after one probe: what its own expectations need. */
export function probeDumps(p: Probe): DumpRequest[] {
  const out: DumpRequest[] = [];
  for (const k of CHECK_KINDS) addUnique(out, k.dumps?.(p) ?? []);
  return out;
}

/** Dumps taken once after all probes, for the expectations of every probe. */
export function finalDumps(probes: Probe[]): DumpRequest[] {
  const out: DumpRequest[] = [];
  for (const p of probes) for (const k of CHECK_KINDS) addUnique(out, k.finalDumps?.(p) ?? []);
  return out;
}

/** Dumps every probe of the scenario takes: the baselines of cumulative counters. */
export function everyProbeDumps(probes: Probe[]): DumpRequest[] {
  const out: DumpRequest[] = [];
  for (const k of CHECK_KINDS) addUnique(out, k.everyProbe?.(probes) ?? []);
  return out;
}
