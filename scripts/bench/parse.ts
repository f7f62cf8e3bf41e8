// Parsers of the measuring tools' output (iperf3 -J, sockperf ping-pong, mininet-build.py,
// timed.sh, connrate.sh). Pure: unit-tested in test/unit/bench-parse.test.ts.

export interface Iperf3Result {
  /** Receiver-side goodput, bits per second. */
  bps: number;
  sentBps: number;
  retransmits: number;
  seconds: number;
}

/** iperf3 -J output → receiver goodput; throws with iperf3's own error when the test failed. */
export function parseIperf3(json: string): Iperf3Result {
  let j: unknown;
  try {
    j = JSON.parse(json);
  } catch {
    throw new Error(`iperf3: no JSON result${json.trim() ? ` (${json.trim().slice(0, 120)})` : ''}`);
  }
  const o = j as { error?: string; end?: { sum_received?: { bits_per_second?: number; seconds?: number }; sum_sent?: { bits_per_second?: number; retransmits?: number } } };
  if (o.error) throw new Error(`iperf3: ${o.error}`);
  const rx = o.end?.sum_received;
  if (!rx || typeof rx.bits_per_second !== 'number') throw new Error('iperf3: no end.sum_received in the result');
  return {
    bps: rx.bits_per_second,
    sentBps: o.end?.sum_sent?.bits_per_second ?? 0,
    retransmits: o.end?.sum_sent?.retransmits ?? 0,
    seconds: rx.seconds ?? 0,
  };
}

export interface SockperfResult {
  /** Round-trip times in microseconds (sockperf --full-rtt). */
  avgUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  observations: number;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** `sockperf ping-pong --tcp --full-rtt` output → RTT figures in µs; throws when absent. */
export function parseSockperf(text: string): SockperfResult {
  const t = text.replace(ANSI, '');
  const num = (re: RegExp) => {
    const m = re.exec(t);
    return m ? Number(m[1]) : undefined;
  };
  const avg = num(/avg-(?:rtt|lat)=\s*([\d.]+)/);
  const p50 = num(/percentile 50\.000 =\s*([\d.]+)/);
  const p99 = num(/percentile 99\.000 =\s*([\d.]+)/);
  const max = num(/<MAX> observation =\s*([\d.]+)/);
  const obs = num(/Total (\d+) observations/);
  if (avg === undefined || p50 === undefined) {
    const err = /sockperf: ERROR: (.*)/.exec(t)?.[1];
    throw new Error(`sockperf: no latency summary${err ? ` (${err.trim()})` : ''}`);
  }
  return { avgUs: avg, p50Us: p50, p99Us: p99 ?? NaN, maxUs: max ?? NaN, observations: obs ?? 0 };
}

export interface MininetResult {
  hosts: number;
  switches: number;
  buildMs: number;
  startMs: number;
  stopMs: number;
  ping: boolean;
}

/** The `MININET {json}` line of scripts/bench/mininet-build.py. */
export function parseMininet(text: string): MininetResult {
  const line = text.split('\n').find((l) => l.startsWith('MININET '));
  if (!line) throw new Error(`mininet: no result line${text.trim() ? ` (last output: ${text.trim().split('\n').slice(-3).join(' | ').slice(0, 200)})` : ''}`);
  const j = JSON.parse(line.slice('MININET '.length)) as Record<string, unknown>;
  const n = (k: string) => {
    const v = j[k];
    if (typeof v !== 'number') throw new Error(`mininet: field ${k} missing`);
    return v;
  };
  return { hosts: n('hosts'), switches: n('switches'), buildMs: n('build_ms'), startMs: n('start_ms'), stopMs: n('stop_ms'), ping: j.ping === true };
}

/** `rc=N ms=X` of timed.sh. */
export function parseTimed(text: string): { rc: number; ms: number } {
  const m = /rc=(\d+) ms=([\d.]+)/.exec(text);
  if (!m) throw new Error(`timed.sh: no result (${text.trim().slice(0, 120)})`);
  return { rc: Number(m[1]), ms: Number(m[2]) };
}

/** `ok=N fail=M ms=X` of connrate.sh. */
export function parseConnrate(text: string): { ok: number; fail: number; ms: number } {
  const m = /ok=(\d+) fail=(\d+) ms=([\d.]+)/.exec(text);
  if (!m) throw new Error(`connrate.sh: no result (${text.trim().slice(0, 120)})`);
  return { ok: Number(m[1]), fail: Number(m[2]), ms: Number(m[3]) };
}

/** Rules in an iptables-restore payload (`-A`/`-I` lines), and chains it declares. */
export function countRules(payload: string): { rules: number; chains: number } {
  let rules = 0;
  let chains = 0;
  for (const l of payload.split('\n')) {
    if (l.startsWith('-A ') || l.startsWith('-I ')) rules++;
    else if (l.startsWith(':')) chains++;
  }
  return { rules, chains };
}
