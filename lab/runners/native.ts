// The native runner: the agent runs on the host kernel, as root, inside lab namespaces only.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from './job.ts';
import type { AgentPhase, Availability, Runner, RunOutcome } from './types.ts';
import { readEvents, span } from './timings.ts';
import { describeMissing, missingTools, toolsFor } from './tools.ts';
import { featureRecord, probeTable } from '../features.ts';
import { ensureNativeTools } from './native-tools.ts';
import { appendJournal } from '../state/journal.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const AGENT = path.join(here, 'agent.sh');
/** The parts agent.sh sources (agent/*.sh: build, groups, daemons, ebpf, probe, lifecycle, shell): mounted beside it in a container. */
export const AGENT_PARTS = path.join(here, 'agent');

let featureCache: Map<string, boolean> | undefined;
/** Kernel features of the host, probed once per process in a throwaway namespace (needs root). */
export function hostFeatures(): Map<string, boolean> {
  if (featureCache) return featureCache;
  const out = execFileSync('bash', [path.join(here, 'probe-features.sh')], { encoding: 'utf8', timeout: 30_000, input: probeTable() });
  featureCache = new Map(out.trim().split('\n').map((l) => {
    const [f, s] = l.split(' ');
    return [f!, s === 'ok'] as [string, boolean];
  }));
  return featureCache;
}

/** How to get a feature: its record's CONFIG_ option (lab/features.ts). */
export function featureSource(name: string): string {
  return featureRecord(name)?.config ?? name;
}

export const native: Runner = {
  name: 'native',
  async available(features: Set<string>): Promise<Availability> {
    if (process.getuid?.() !== 0) {
      return { ok: false, reason: 'the native runner needs root (network namespaces are created on the host kernel)', fix: 'run as root, or use --runner uml (no root needed)' };
    }
    const miss = missingTools(toolsFor(features));
    if (miss.length) return { ok: false, reason: describeMissing(miss), fix: 'install the packages above' };
    const have = hostFeatures();
    const lacking = [...features].filter((f) => have.has(f) && !have.get(f));
    if (lacking.length) {
      return {
        ok: false,
        reason: `the host kernel (${os.release()}) lacks ${lacking.map(featureSource).join('; ')}`,
        fix: 'use --runner uml (Debian package user-mode-linux has these as modules), or a kernel with them',
      };
    }
    return { ok: true };
  },
  async run(job: Job, phase: AgentPhase, opts = {}): Promise<RunOutcome> {
    const t0 = Date.now();
    const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
    ensureNativeTools(); // the agent finds them in .lab/ (or uses tcpdump and sysctl)
    if (phase !== 'probe' && phase !== 'teardown') appendJournal(job.dir, [['runner', 'native']]);
    const child = spawn('bash', [AGENT, job.dir, phase], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env } });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    }, timeoutMs);
    // Ctrl-C or a TERM to the CLI stops the run cleanly: the agent (or guest) gets TERM and tears down.
    const forward = () => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ } };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 12)));
    clearTimeout(timer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    if (timedOut) {
      // The agent's EXIT trap may not have run: tear down explicitly.
      execFileSync('bash', [AGENT, job.dir, 'teardown'], { stdio: 'ignore', timeout: 60_000 });
      log += `\nagent timed out after ${timeoutMs} ms`;
    }
    const ev = readEvents(job.dir);
    const total = Date.now() - t0;
    return {
      runner: 'native',
      kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
      agentStatus: timedOut ? 12 : code,
      timings: { boot: 0, build: span(ev.build), probe: span(ev.probe), teardown: span(ev.teardown), total },
      log,
    };
  },
};
