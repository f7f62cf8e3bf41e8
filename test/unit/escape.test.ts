// Control characters from a run (a title that bypassed the loader, a server's reply, a tool's
// message) never reach the terminal or a TAP stream raw: no escape sequence, no forged line.
import test from 'ava';
import { oneLine, printable, printableDeep } from '../../lab/report/escape.ts';
import { renderSuite } from '../../lab/report/suite.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import type { ScenarioReport } from '../../lab/run.ts';

const hostile = (): ScenarioReport => ({
  id: 'x-1', labId: 'abcdef', title: 'clear \x1b[2J screen\nok 2 - forged', family: 'eniip', file: 'x.yaml',
  runner: 'uml', kernel: '6.1', passed: false, timings: { boot: 0, build: 0, probe: 0, teardown: 0, total: 0 },
  probes: [{
    name: 'probe 1', from: 'centos', to: 'nginx', target: '10.0.0.1:80', reachable: true, stacks: 2, path: [], attempts: [],
    checks: [{ name: 'answered by', expected: 'nginx', observed: 'reply \x1b]0;pwned\x07 \x9b31m', passed: false, evidence: ['\x1b[31mred'] }],
  }],
} as unknown as ScenarioReport);

test('printable makes C0, DEL and C1 visible and keeps newlines and tabs', (t) => {
  t.is(printable('a\x1b[2Jb\x7f\x9b\tc\nd'), 'a\\x1b[2Jb\\x7f\\x9b\tc\nd');
  t.is(oneLine('a\nb\tc\rd\x00'), 'a\\nb\\tc\\rd\\x00');
  t.deepEqual(printableDeep({ a: ['\x1b'], n: 1, s: new Set(['\x1b']) }), { a: ['\\x1b'], n: 1, s: new Set(['\x1b']) });
});

test('the terminal report carries no control character from the run', (t) => {
  const text = renderScenario(hostile(), true);
  t.false(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text.replace(/\x1b\[[0-9;]*m/g, '')), text);
  t.true(text.includes('\\x1b]0;pwned\\x07'));
});

test('a TAP stream has exactly its own lines, whatever the titles hold', (t) => {
  const lines = renderSuite('tap', [hostile()]).trimEnd().split('\n');
  t.is(lines.filter((l) => /^(not )?ok \d+/.test(l)).length, 1, lines.join('\n'));
  t.false(lines.some((l) => l.includes('\x1b')));
});
