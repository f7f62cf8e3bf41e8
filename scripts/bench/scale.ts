// Section 1: build and teardown of generated clusters (10 … 5000 pods over 2 … 50 nodes) per
// datapath kind and runner, the per-pod cost and how it grows; Mininet building as many hosts
// on Linux bridges (native, inside a lab namespace) as the reference.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileScenario } from '../../lab/compile.ts';
import { newLabId, nsName } from '../../lab/names.ts';
import type { RunnerName } from '../../lab/runners/types.ts';
import { which } from '../../lab/runners/tools.ts';
import { parseTopology } from '../../lab/topology/load.ts';
import { defaultNodes, generateCluster, type DatapathKind, type ProxyKind } from './generate.ts';
import { runJob, runnerServes } from './jobs.ts';
import { parseMininet } from './parse.ts';
import { scaling, type Scaling } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ScaleRow {
  kind: DatapathKind;
  proxy: ProxyKind;
  runner: RunnerName;
  pods: number;
  nodes: number;
  namespaces: number;
  steps: number;
  compileMs: number;
  bootMs: number;
  buildMs: number;
  teardownMs: number;
  totalMs: number;
  buildPerPodMs: number;
  teardownPerPodMs: number;
}

export interface ScaleSummary {
  kind: DatapathKind;
  runner: RunnerName;
  sizes: number[];
  build: Scaling;
  teardown: Scaling;
}

export interface Skip {
  what: string;
  reason: string;
}

export interface MininetRow {
  hosts: number;
  switches: number;
  buildMs: number; // build + start (hosts, links, bridges up)
  stopMs: number;
  ping: boolean;
  /** Mininet's build ÷ the lab's native build of as many eniip pods (same run). */
  buildRatio?: number;
  stopRatio?: number;
}

export type Log = (s: string) => void;

/** Builds and tears down generated clusters; a size that fails ends that kind/runner's series. */
export async function benchScale(o: { kinds: DatapathKind[]; runners: RunnerName[]; sizes: number[]; proxy: ProxyKind; log: Log }): Promise<{ rows: ScaleRow[]; summaries: ScaleSummary[]; skipped: Skip[] }> {
  const rows: ScaleRow[] = [];
  const skipped: Skip[] = [];
  const summaries: ScaleSummary[] = [];
  for (const kind of o.kinds) {
    for (const runner of o.runners) {
      const label = `build ${kind}+${o.proxy} on ${runner}`;
      const series: ScaleRow[] = [];
      for (const pods of o.sizes) {
        const nodes = defaultNodes(pods);
        let compiled;
        const c0 = performance.now();
        try {
          const topo = parseTopology(generateCluster({ kind, pods, nodes, serviceProxy: o.proxy }), `generated-${kind}-${pods}.yaml`);
          compiled = compileScenario(topo, undefined, newLabId());
        } catch (e) {
          skipped.push({ what: `${label}, ${pods} pods`, reason: (e as Error).message.split('\n')[0]! });
          break;
        }
        const compileMs = Math.round(performance.now() - c0);
        const serves = await runnerServes(runner, compiled.plan.features);
        if (!serves.ok) {
          skipped.push({ what: label, reason: serves.reason ?? 'runner unavailable' });
          break;
        }
        const r = await runJob(compiled, runner, [], 60 * 60_000);
        if (r.outcome.agentStatus !== 0) {
          const detail = (r.buildError ?? r.outcome.log).trim();
          skipped.push({ what: `${label}, ${pods} pods`, reason: `agent status ${r.outcome.agentStatus}: ${detail.split('\n').slice(0, 3).join(' | ').slice(0, 300)}${namespaceLimitHint(runner, detail)}` });
          break;
        }
        const t = r.outcome.timings;
        const row: ScaleRow = {
          kind, proxy: o.proxy, runner: r.outcome.runner, pods, nodes, namespaces: compiled.plan.namespaces.length, steps: compiled.plan.steps.length,
          compileMs, bootMs: t.boot, buildMs: t.build, teardownMs: t.teardown, totalMs: t.total,
          buildPerPodMs: round(t.build / pods, 2), teardownPerPodMs: round(t.teardown / pods, 2),
        };
        rows.push(row);
        series.push(row);
        o.log(`  ${kind} ${runner} ${pods} pods/${nodes} nodes: build ${t.build} ms, teardown ${t.teardown} ms`);
      }
      if (series.length >= 2) {
        const sizes = series.map((r) => r.pods);
        summaries.push({ kind, runner, sizes, build: scaling(sizes, series.map((r) => r.buildMs)), teardown: scaling(sizes, series.map((r) => r.teardownMs)) });
      }
    }
  }
  return { rows, summaries, skipped };
}

/**
 * `ip netns add` failing with ENOSPC is the user.max_net_namespaces limit: inside the UML guest it
 * defaults to half the kernel's max_threads, i.e. about 4096 with the runner's mem=1G.
 */
export function namespaceLimitHint(runner: RunnerName, detail: string): string {
  if (!/network namespace.*No space left on device/.test(detail)) return '';
  return runner === 'uml'
    ? ' — the guest\'s user.max_net_namespaces (≈ 4096: half of max_threads at the UML runner\'s mem=1G) is reached'
    : ' — user.max_net_namespaces is reached';
}

export function round(v: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

/** Why Mininet cannot run here (or undefined). */
export function mininetUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'Mininet needs root';
  if (!existsSync('/usr/lib/python3/dist-packages/mininet/net.py')) return 'Mininet is not installed (apt-get install mininet)';
  if (!which('brctl')) return 'brctl missing (apt-get install bridge-utils): Mininet\'s LinuxBridge drives it';
  if (!which('mnexec')) return 'mnexec missing (apt-get install mininet)';
  return undefined;
}

function ptyFree(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/pty/max', 'utf8')) - Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8'));
  } catch {
    return Infinity;
  }
}

/**
 * Mininet (LinuxBridge, no controller) building `hosts` hosts on as many switches as the lab's
 * generated cluster has nodes, inside a throwaway lab namespace; every process it started is
 * ended by pid and the namespace removed, whatever happens.
 */
export async function runMininet(hosts: number, switches: number, timeoutMs: number): Promise<{ ok: true; r: ReturnType<typeof parseMininet> } | { ok: false; reason: string }> {
  const need = hosts + switches;
  const free = ptyFree();
  if (need + 32 > free) {
    return { ok: false, reason: `Mininet needs a pty per node (${need}); ${free} are free under kernel.pty.max — raising it is a host-wide change the benchmark does not make` };
  }
  const labId = newLabId();
  const ns = nsName(labId, 'mininet');
  const pidfile = path.join(os.tmpdir(), `dl-bench-mininet-${labId}.pids`);
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const child = spawn('ip', ['netns', 'exec', ns, '/usr/bin/python3', path.join(here, 'mininet-build.py'), String(hosts), String(switches), pidfile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    clearTimeout(timer);
    try {
      return { ok: true, r: parseMininet(out) };
    } catch (e) {
      return { ok: false, reason: `exit ${code}: ${(e as Error).message}` };
    }
  } finally {
    // The shells Mininet started (hosts have namespaces of their own): end exactly those.
    const pids = existsSync(pidfile) ? readFileSync(pidfile, 'utf8').split('\n').filter(Boolean).map(Number) : [];
    for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    const inNs = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    for (const p of inNs) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(pidfile, { force: true });
  }
}

export async function benchMininet(sizes: number[], labNative: ScaleRow[], log: Log): Promise<{ rows: MininetRow[]; skipped: Skip[] }> {
  const rows: MininetRow[] = [];
  const skipped: Skip[] = [];
  const why = mininetUnavailable();
  if (why) return { rows, skipped: [{ what: 'Mininet', reason: why }] };
  for (const hosts of sizes) {
    const switches = defaultNodes(hosts);
    const res = await runMininet(hosts, switches, 30 * 60_000);
    if (!res.ok) {
      skipped.push({ what: `Mininet ${hosts} hosts`, reason: res.reason });
      continue;
    }
    const lab = labNative.find((r) => r.kind === 'eniip' && r.runner === 'native' && r.pods === hosts);
    const build = res.r.buildMs + res.r.startMs;
    rows.push({
      hosts: res.r.hosts, switches: res.r.switches, buildMs: round(build, 0), stopMs: round(res.r.stopMs, 0), ping: res.r.ping,
      buildRatio: lab && lab.buildMs > 0 ? round(build / lab.buildMs, 2) : undefined,
      stopRatio: lab && lab.teardownMs > 0 ? round(res.r.stopMs / lab.teardownMs, 2) : undefined,
    });
    log(`  mininet ${hosts} hosts/${switches} switches: build ${round(build, 0)} ms, stop ${round(res.r.stopMs, 0)} ms, ping ${res.r.ping ? 'ok' : 'FAILED'}`);
  }
  return { rows, skipped };
}
