// Parsers of the benchmark tools' output (scripts/bench/parse.ts), on captured samples.
import test from 'ava';
import { countRules, parseConnrate, parseIperf3, parseMininet, parseSockperf, parseTimed } from '../../scripts/bench/parse.ts';

const ESC = '\x1b';
// sockperf 3.7 ping-pong --tcp --full-rtt, as printed (colour codes included).
const SOCKPERF = `sockperf: ${ESC}[2;35m== version #3.7-no.git == ${ESC}[0m
sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)

[ 0] IP = 10.9.0.2        PORT = 11111 # TCP
sockperf: Warmup stage (sending a few dummy messages)...
sockperf: Starting test...
sockperf: Test end (interrupted by timer)
sockperf: Test ended
sockperf: [Total Run] RunTime=2.000 sec; Warm up time=400 msec; SentMessages=212863; ReceivedMessages=212862
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=1.550 sec; SentMessages=157260; ReceivedMessages=157260
sockperf: ${ESC}[2;35m====> avg-rtt=9.826 (std-dev=252.096)${ESC}[0m
sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0
sockperf: Summary: Round trip is 9.826 usec
sockperf: ${ESC}[2;35mTotal 157260 observations${ESC}[0m; each percentile contains 1572.60 observations
sockperf: ---> <MAX> observation = 79297.660
sockperf: ---> percentile 99.999 = 36335.217
sockperf: ---> percentile 99.990 = 4198.022
sockperf: ---> percentile 99.900 =  454.067
sockperf: ---> percentile 99.000 =   51.762
sockperf: ---> percentile 90.000 =    6.090
sockperf: ---> percentile 75.000 =    5.531
sockperf: ---> percentile 50.000 =    5.263
sockperf: ---> percentile 25.000 =    5.092
sockperf: ---> <MIN> observation =    4.661
`;

test('sockperf ping-pong: RTT average and percentiles in µs, colour codes ignored', (t) => {
  t.deepEqual(parseSockperf(SOCKPERF), { avgUs: 9.826, p50Us: 5.263, p99Us: 51.762, maxUs: 79297.66, observations: 157260 });
});

test('sockperf without a summary: its own error is quoted', (t) => {
  const e = t.throws(() => parseSockperf('sockperf: ERROR: Failed to connect (errno=111 Connection refused)\n'));
  t.regex(e!.message, /no latency summary \(Failed to connect/);
});

test('iperf3 -J: receiver goodput, retransmits; iperf3 errors surface', (t) => {
  const j = { start: {}, end: { sum_sent: { bits_per_second: 9.1e9, retransmits: 184 }, sum_received: { bits_per_second: 9.07e9, seconds: 2.0 } } };
  t.deepEqual(parseIperf3(JSON.stringify(j)), { bps: 9.07e9, sentBps: 9.1e9, retransmits: 184, seconds: 2 });
  t.throws(() => parseIperf3(JSON.stringify({ start: {}, error: 'unable to connect to server: Connection refused' })), { message: /iperf3: unable to connect/ });
  t.throws(() => parseIperf3(''), { message: /no JSON result/ });
});

test('mininet-build.py result line', (t) => {
  const out = 'some warning\nMININET {"hosts": 100, "switches": 2, "build_ms": 1925.6, "start_ms": 141.4, "ping": true, "ping_ms": 3.1, "stop_ms": 2310.6}\n';
  t.deepEqual(parseMininet(out), { hosts: 100, switches: 2, buildMs: 1925.6, startMs: 141.4, stopMs: 2310.6, ping: true });
  t.throws(() => parseMininet('Traceback (most recent call last):\n  File "x"\nOSError: out of ptys\n'), { message: /no result line .*out of ptys/ });
});

test('timed.sh and connrate.sh lines', (t) => {
  t.deepEqual(parseTimed('rc=0 ms=109.250\n'), { rc: 0, ms: 109.25 });
  t.deepEqual(parseConnrate('ok=298 fail=2 ms=1234.500\n'), { ok: 298, fail: 2, ms: 1234.5 });
  t.throws(() => parseTimed(''));
  t.throws(() => parseConnrate('timeout'));
});

test('rule and chain count of an iptables-restore payload', (t) => {
  const p = '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-I OUTPUT 1 -j KUBE-SERVICES\nCOMMIT\n';
  t.deepEqual(countRules(p), { rules: 2, chains: 2 });
});
