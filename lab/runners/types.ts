// A runner applies a job in some kernel and brings the evidence back. All runners execute the
// same agent (agent.sh); they differ in where: the host kernel (native), a User-Mode Linux
// guest (uml), a container (docker).
import type { Job } from './job.ts';

export type RunnerName = 'native' | 'uml' | 'docker';
export type AgentPhase = 'all' | 'up' | 'build' | 'probe' | 'teardown';

export interface Availability {
  ok: boolean;
  reason?: string; // why not
  fix?: string; // what would make it available
}

export interface RunOutcome {
  runner: RunnerName;
  kernel: string;
  /** Agent exit status: 0 ok, 10 agent error, 11 build failed, 12 no status (crash). */
  agentStatus: number;
  timings: { boot: number; build: number; probe: number; teardown: number; total: number };
  log: string;
}

export interface Runner {
  name: RunnerName;
  /** Whether this runner can serve a plan needing these kernel features. */
  available(features: Set<string>): Promise<Availability>;
  run(job: Job, phase: AgentPhase, opts?: { timeoutMs?: number }): Promise<RunOutcome>;
}
