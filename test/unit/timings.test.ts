// The phases of a run from the agent's out/events.tsv (lab/runners/timings.ts): a job of lab test's
// guest answers at evidence-done, before its teardown starts, and its probe phase ends there.
import test from 'ava';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readEvents, span } from '../../lab/runners/timings.ts';

function events(lines: string[]): ReturnType<typeof readEvents> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-events-'));
  try {
    mkdirSync(path.join(dir, 'out'));
    writeFileSync(path.join(dir, 'out', 'events.tsv'), lines.join('\n') + '\n');
    return readEvents(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('probe phase: to teardown-start, else to evidence-done (lab test answers first), else to the last probe', (t) => {
  const base = ['100.000\tbuild-start', '101.000\tbuild-end\t5', '101.100\tprobe-start\tp1', '101.300\tprobe-end\tp1\t0'];
  t.is(span(events([...base, '101.900\tteardown-start', '102.100\tteardown-end']).probe), 900);
  t.is(span(events([...base, '101.800\tevidence-done']).probe), 800);
  t.is(span(events(base).probe), 300);
  t.is(span(events(base).build), 1000);
});
