// A probe the agent never tried (it broke between build and probes) is a broken run, never
// "unreachable": run.ts fails closed on probes with no line in out/probes.out.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unattempted } from '../../lab/run.ts';

test('probes without an attempt line are named; no probes.out names them all', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-unattempted-'));
  try {
    t.deepEqual(unattempted(dir, ['p1', 'p2']), ['p1', 'p2']);
    mkdirSync(path.join(dir, 'out'));
    writeFileSync(path.join(dir, 'out', 'probes.out'), 'p1\t1\t1.0\t1.1\t1\t\np10\tbulk\t1.0\t2.0\t0\t\n');
    t.deepEqual(unattempted(dir, ['p1', 'p2', 'p10']), ['p2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
