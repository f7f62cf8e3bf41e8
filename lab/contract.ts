// The job contract: what the compiler hands to the runner and the agent (the probe list, the
// dumps to take after each probe, the source ports each attempt uses) and what the checks read
// back. It depends on the model and the plan only, never on a check or on the compiler, so that
// compile → checks → contract has no way back.
import type { BuildContext } from './context.ts';
import type { Probe, ProbeProtocol } from './model.ts';
import type { Plan } from './plan.ts';

/** A state dump the agent takes in an object's namespace right after a probe. */
export interface DumpRequest {
  kind: string;
  object: string;
  /** Taken only when a probe of the run so far went unanswered (the tables that name a drop's cause). */
  unanswered?: boolean;
}

export interface ProbeSpec {
  id: string;
  index: number; // 1-based line number in probes.tsv (the agent derives source ports from it)
  probe: Probe;
  from: string;
  dstIp: string;
  dstPort: number;
  protocol: ProbeProtocol;
  want: string; // text the answer must contain ('-' = any answer)
  mode: 'single' | 'bulk';
  attempts: number;
  timeout: number;
  dumps: DumpRequest[];
}

export interface Compiled {
  plan: Plan;
  probes: ProbeSpec[];
  ctx: BuildContext;
}

/** Where a probe's source ports start: attempt a uses SPORT_BASE + index*100 + a. */
export const SPORT_BASE = 40000;

/** The source port of attempt `attempt` of the probe on line `index` of probes.tsv. */
export function sourcePort(index: number, attempt: number): number {
  return SPORT_BASE + index * 100 + attempt;
}

/** The file (under out/dump/ of the job) holding the agent's `kind` dump of namespace `ns`
 *  after probe `probeId` (or after all probes: probeId "final"). */
export function dumpFile(probeId: string, kind: string, ns: string): string {
  return `${probeId}.${kind}.${ns}.txt`;
}
