// Section 3: datapath performance between lab pods — TCP request/response latency (sockperf
// ping-pong) and bulk throughput (iperf3) from a client pod to a pod on the same node and one on
// the other node — and service access through each service proxy with 10 / 100 / 1000 services
// (new connections per second and request/response latency to the last service's ClusterIP,
// against the backend's pod IP in the same build). Every tool runs inside lab namespaces,
// bounded by `timeout`; the lab is torn down by the same agent run.
import os from 'node:os';
import { compileScenario, type Compiled } from '../../lab/compile.ts';
import { newLabId } from '../../lab/names.ts';
import type { RunnerName } from '../../lab/runners/types.ts';
import { parseTopology } from '../../lab/topology/load.ts';
import { generateCluster, podIp, serviceIp, type DatapathKind, type ProxyKind } from './generate.ts';
import { ACCEPTOR, addCapture, addDaemon, addSleep, addWaitFile, CONNRATE, runJob, runnerServes, type JobResult } from './jobs.ts';
import { parseConnrate, parseIperf3, parseSockperf, type SockperfResult } from './parse.ts';
import { median } from './stats.ts';
import type { Log, Skip } from './scale.ts';
import { round } from './scale.ts';

const SOCKPERF_PORT = 11111;
/**
 * Client and server (sockperf, connrate.sh / acceptor.py) share CPU 0: on a VM, a wake-up on
 * another (halted) vCPU costs tens of µs and the scheduler's placement would make RTTs bimodal
 * (≈ 7 vs ≈ 80 µs natively here). Pinned, the figure is the stack's. (A UML guest has one CPU.)
 */
const PIN = ['taskset', '-c', '0'];
const IPERF_PORT = 5201;

export interface PerfRow {
  kind: DatapathKind;
  runner: RunnerName;
  kernel: string;
  path: 'same-node' | 'cross-node';
  /** Repetitions that produced both figures; each figure is the median over the repetitions. */
  samples: number;
  /** 1-minute load average when the job started: RTTs need idle cores (client and server each take one). */
  load: number;
  rttP50Us?: number;
  /** Lowest and highest p50 of the repetitions. */
  rttP50Range?: [number, number];
  rttAvgUs?: number;
  rttP99Us?: number;
  gbps?: number;
  retransmits?: number;
  errors: string[];
}

export interface ServiceRow {
  proxy: ProxyKind;
  kind: DatapathKind;
  runner: RunnerName;
  kernel: string;
  services: number;
  /** 1-minute load average when the job started. */
  load: number;
  /** New connections per second to the last service's ClusterIP (connect, one-line answer, close; acceptor.py, no fork). */
  vipConnPerSec?: number;
  /** The same to the backend's pod IP, in the same build. */
  directConnPerSec?: number;
  vipRttP50Us?: number;
  directRttP50Us?: number;
  buildMs: number;
  errors: string[];
}

function compileGenerated(kind: DatapathKind, proxy: ProxyKind, services: number, listen: boolean): Compiled {
  // p0: client on n0; p1: server on n1 (cross node); p2: server on n0 (same node).
  const yaml = generateCluster({
    kind, pods: 3, nodes: 2, serviceProxy: proxy, services, backends: services ? [2] : undefined, servicePorts: [80, SOCKPERF_PORT],
    listen: listen ? [80, SOCKPERF_PORT] : undefined, listeners: [2],
  });
  const c = compileScenario(parseTopology(yaml, `generated-perf-${kind}-${proxy}-${services}.yaml`), undefined, newLabId());
  // p2 is declared as listening on the service ports (the loader wants every endpoint to listen on
  // its target ports); the measuring servers take those ports instead of the lab's socat servers,
  // which fork per connection and would hide the proxy's per-connection cost.
  c.plan.steps = c.plan.steps.filter((s) => !(s.tool === 'daemon' && s.name?.startsWith('srv-p2-')));
  return c;
}

function ips(kind: DatapathKind) {
  return { p1: podIp(kind, 1, 1, 2), p2: podIp(kind, 2, 0, 2) };
}

function sockperfServer(c: Compiled, pod: string, ip: string): void {
  addDaemon(c, pod, `spf-${pod}`, [...PIN, 'sockperf', 'server', '--tcp', '-i', ip, '-p', String(SOCKPERF_PORT)]);
  addWaitFile(c, `out/daemon-spf-${pod}.log`, 20);
}

function rr(c: Compiled, name: string, ip: string, seconds: number): void {
  addCapture(c, 'p0', name, ['timeout', String(seconds + 20), ...PIN, 'sockperf', 'ping-pong', '--tcp', '--full-rtt', '-i', ip, '-p', String(SOCKPERF_PORT), '-t', String(seconds), '-m', '64']);
}

/** Median rounded to 0.1, undefined for no samples. */
function med(xs: number[]): number | undefined {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length ? round(median(ok), 1) : undefined;
}

function tryParse<T>(errors: string[], what: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    errors.push(`${what}: ${(e as Error).message}`);
    return undefined;
  }
}

function captureText(r: JobResult, name: string): string {
  const c = r.captures[name];
  return c ? c.stdout || c.stderr : '';
}

/**
 * firstServing (quick runs): per kind only the first runner of `runners` that serves it, except
 * the kinds in `everywhere`, measured on every runner (eniip: the claim compares ipvlan with it on
 * the same runner).
 */
export async function benchDatapaths(o: { kinds: DatapathKind[]; runners: RunnerName[]; firstServing?: boolean; everywhere?: DatapathKind[]; seconds: number; reps: number; log: Log }): Promise<{ rows: PerfRow[]; skipped: Skip[] }> {
  const rows: PerfRow[] = [];
  const skipped: Skip[] = [];
  for (const kind of o.kinds) {
    let served = false;
    for (const runner of o.runners) {
      if (served && o.firstServing && !o.everywhere?.includes(kind)) break;
      let c: Compiled;
      try {
        c = compileGenerated(kind, 'none', 0, false);
      } catch (e) {
        skipped.push({ what: `datapath ${kind}`, reason: (e as Error).message.split('\n')[0]! });
        break;
      }
      const serves = await runnerServes(runner, c.plan.features);
      if (!serves.ok) {
        skipped.push({ what: `datapath ${kind} on ${runner}`, reason: serves.reason ?? 'runner unavailable' });
        continue;
      }
      served = true;
      const { p1, p2 } = ips(kind);
      for (const [pod, ip] of [['p1', p1], ['p2', p2]] as const) {
        addDaemon(c, pod, `ipf-${pod}`, ['iperf3', '-s', '--forceflush', '-p', String(IPERF_PORT)]);
        addWaitFile(c, `out/daemon-ipf-${pod}.log`, 20);
        sockperfServer(c, pod, ip);
      }
      addSleep(c, 'p0', runner === 'uml' ? 1 : 0.5);
      const bulk = (name: string, ip: string) =>
        addCapture(c, 'p0', name, ['timeout', String(o.seconds + 20), 'iperf3', '-c', ip, '-p', String(IPERF_PORT), '-t', String(o.seconds), '-J']);
      // Repetitions interleaved (same, cross, same, cross…): a burst of load from elsewhere on the
      // machine hits both paths alike; the medians are reported.
      const names: string[] = [];
      for (let k = 1; k <= o.reps; k++) {
        for (const [path, ip] of [['same', p2], ['cross', p1]] as const) {
          rr(c, `rr-${path}-${k}`, ip, o.seconds);
          bulk(`bulk-${path}-${k}`, ip);
          names.push(`rr-${path}-${k}`, `bulk-${path}-${k}`);
        }
      }
      const load = round(os.loadavg()[0]!, 2);
      const r = await runJob(c, runner, names, 20 * 60_000);
      if (r.outcome.agentStatus !== 0) {
        skipped.push({ what: `datapath ${kind} on ${runner}`, reason: `agent status ${r.outcome.agentStatus}: ${(r.buildError ?? r.outcome.log).trim().split('\n').slice(0, 3).join(' | ').slice(0, 300)}` });
        continue;
      }
      for (const path of ['same', 'cross'] as const) {
        const errors: string[] = [];
        const lats: SockperfResult[] = [];
        const thrs: number[] = [];
        let retrans = 0;
        for (let k = 1; k <= o.reps; k++) {
          const lat = tryParse(errors, `sockperf #${k}`, () => parseSockperf(captureText(r, `rr-${path}-${k}`)));
          if (lat) lats.push(lat);
          const thr = tryParse(errors, `iperf3 #${k}`, () => parseIperf3(r.captures[`bulk-${path}-${k}`]?.stdout ?? ''));
          if (thr) {
            thrs.push(thr.bps);
            retrans += thr.retransmits;
          }
        }
        const p50s = lats.map((l) => l.p50Us);
        const row: PerfRow = {
          kind, runner: r.outcome.runner, kernel: r.outcome.kernel, path: `${path}-node`, samples: Math.min(lats.length, thrs.length), load,
          rttP50Us: med(p50s), rttAvgUs: med(lats.map((l) => l.avgUs)), rttP99Us: med(lats.map((l) => l.p99Us)),
          rttP50Range: p50s.length ? [Math.min(...p50s), Math.max(...p50s)] : undefined,
          gbps: thrs.length ? round(median(thrs) / 1e9, 3) : undefined, retransmits: thrs.length ? retrans : undefined, errors,
        };
        rows.push(row);
        o.log(`  ${kind} ${runner} ${path}-node: rtt p50 ${row.rttP50Us ?? '—'} µs, ${row.gbps ?? '—'} Gbit/s${errors.length ? ` (${errors.join('; ')})` : ''}`);
      }
    }
  }
  return { rows, skipped };
}

/** Which datapath each service proxy is measured on (its family's). */
export const PROXY_DATAPATH: Record<Exclude<ProxyKind, 'none'>, DatapathKind[]> = {
  iptables: ['eniip'],
  ipvs: ['eniip'],
  ebpf: ['ipvlan', 'eniip'],
};

/**
 * firstServing: per proxy, only the first runner of `runners` that serves it; lean: no warm-up
 * connections and no RTT to the pod IP (quick runs).
 */
export async function benchServices(o: { proxies: Exclude<ProxyKind, 'none'>[]; counts: number[]; runners: RunnerName[]; firstServing?: boolean; lean?: boolean; seconds: number; reps: number; connections: (runner: RunnerName) => number; log: Log }): Promise<{ rows: ServiceRow[]; skipped: Skip[] }> {
  const rows: ServiceRow[] = [];
  const skipped: Skip[] = [];
  for (const proxy of o.proxies) {
    let served = false;
    for (const runner of o.runners) {
      if (served && o.firstServing) break;
      for (const n of o.counts) {
        let c: Compiled | undefined;
        let kind: DatapathKind | undefined;
        const why: string[] = [];
        for (const k of PROXY_DATAPATH[proxy]) {
          try {
            c = compileGenerated(k, proxy, n, true);
            kind = k;
            break;
          } catch (e) {
            why.push(`${k}: ${(e as Error).message.split('\n')[0]}`);
          }
        }
        if (!c || !kind) {
          skipped.push({ what: `services via ${proxy}`, reason: why.join('; ') });
          break;
        }
        const serves = await runnerServes(runner, c.plan.features);
        if (!serves.ok) {
          skipped.push({ what: `services via ${proxy} on ${runner}`, reason: serves.reason ?? 'runner unavailable' });
          break;
        }
        served = true;
        const { p2 } = ips(kind);
        const vip = serviceIp(n - 1);
        sockperfServer(c, 'p2', p2);
        addDaemon(c, 'p2', 'acc-p2', [...PIN, 'python3', ACCEPTOR, p2, '80']);
        addWaitFile(c, 'out/daemon-acc-p2.log', 60);
        addSleep(c, 'p0', runner === 'uml' ? 1 : 0.5);
        const count = o.connections(runner);
        const conn = (name: string, ip: string) => addCapture(c!, 'p0', name, ['timeout', '300', ...PIN, 'bash', CONNRATE, ip, '80', String(count), '2']);
        if (!o.lean) addCapture(c, 'p0', 'conn-warmup', ['timeout', '120', ...PIN, 'bash', CONNRATE, p2, '80', String(Math.ceil(count / 10)), '2']);
        const names: string[] = [];
        for (let k = 1; k <= o.reps; k++) {
          conn(`conn-direct-${k}`, p2);
          conn(`conn-vip-${k}`, vip);
          if (!o.lean) rr(c, `rr-direct-${k}`, p2, o.seconds);
          rr(c, `rr-vip-${k}`, vip, o.seconds);
          names.push(`conn-direct-${k}`, `conn-vip-${k}`, `rr-direct-${k}`, `rr-vip-${k}`);
        }
        const load = round(os.loadavg()[0]!, 2);
        const r = await runJob(c, runner, names, 30 * 60_000);
        if (r.outcome.agentStatus !== 0) {
          skipped.push({ what: `services via ${proxy} on ${runner}, ${n} services`, reason: `agent status ${r.outcome.agentStatus}: ${(r.buildError ?? r.outcome.log).trim().split('\n').slice(0, 3).join(' | ').slice(0, 300)}` });
          break;
        }
        const errors: string[] = [];
        const rate = (what: string) => {
          const rates: number[] = [];
          for (let k = 1; k <= o.reps; k++) {
            const x = tryParse(errors, `${what}-${k}`, () => parseConnrate(captureText(r, `${what}-${k}`)));
            if (x && x.fail > 0) errors.push(`${what}-${k}: ${x.fail} of ${x.ok + x.fail} connections unanswered`);
            if (x && x.ok > 0) rates.push((x.ok * 1000) / x.ms);
          }
          return rates.length ? round(median(rates), 0) : undefined;
        };
        const rtt = (what: string) => med(Array.from({ length: o.reps }, (_, i) => tryParse(errors, `${what}-${i + 1}`, () => parseSockperf(captureText(r, `${what}-${i + 1}`)))?.p50Us).filter((x): x is number => x !== undefined));
        const row: ServiceRow = {
          proxy, kind, runner: r.outcome.runner, kernel: r.outcome.kernel, services: n, load,
          vipConnPerSec: rate('conn-vip'), directConnPerSec: rate('conn-direct'),
          vipRttP50Us: rtt('rr-vip'), directRttP50Us: o.lean ? undefined : rtt('rr-direct'),
          buildMs: r.outcome.timings.build, errors,
        };
        rows.push(row);
        o.log(`  ${proxy} ${runner} ${n} services: ${row.vipConnPerSec ?? '—'} conn/s via VIP (${row.directConnPerSec ?? '—'} direct), rtt p50 ${row.vipRttP50Us ?? '—'} µs${errors.length ? ` (${errors.join('; ')})` : ''}`);
      }
    }
  }
  return { rows, skipped };
}

export interface ClaimVerdict {
  runner: RunnerName;
  kernel: string;
  path: string;
  /** ipvlan ÷ eniip: < 1 means IPVLAN+eBPF answers faster. */
  latencyRatio?: number;
  /** ipvlan ÷ eniip: > 1 means IPVLAN+eBPF moves more data. */
  throughputRatio?: number;
  agrees?: boolean;
}

/** "IPVLAN+eBPF beats ENIIP (it skips the host stack)": ratios of the same run, per runner and path. */
export function claimVerdicts(rows: PerfRow[]): ClaimVerdict[] {
  const out: ClaimVerdict[] = [];
  for (const e of rows.filter((r) => r.kind === 'eniip')) {
    const i = rows.find((r) => r.kind === 'ipvlan' && r.runner === e.runner && r.path === e.path);
    if (!i) continue;
    const latencyRatio = i.rttP50Us && e.rttP50Us ? round(i.rttP50Us / e.rttP50Us, 2) : undefined;
    const throughputRatio = i.gbps && e.gbps ? round(i.gbps / e.gbps, 2) : undefined;
    const agrees = latencyRatio !== undefined && throughputRatio !== undefined ? latencyRatio < 1 && throughputRatio > 1 : undefined;
    out.push({ runner: e.runner, kernel: e.kernel, path: e.path, latencyRatio, throughputRatio, agrees });
  }
  return out;
}
