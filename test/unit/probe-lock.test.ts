// The probe lock of a live lab (lab/workshop/live.ts): one check or probe at a time; a lock left by
// a process that is gone — or whose pid another process now has — is taken over.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procStartTime } from '../../lab/state/proc.ts';
import { lock } from '../../lab/workshop/live.ts';

const lab = () => ({ labId: 'abc123', jobDir: mkdtempSync(path.join(os.tmpdir(), 'dl-lock-')) });

test('held: a second taker is told the lab is busy (exit 2); released: the file is gone', (t) => {
  const s = lab();
  try {
    const release = lock(s);
    const f = path.join(s.jobDir, 'probe.lock');
    t.is(readFileSync(f, 'utf8'), `${process.pid} ${procStartTime(process.pid)}\n`);
    const e = t.throws(() => lock(s));
    t.regex(e.message, new RegExp(`lab abc123 is busy: a check or probe \\(pid ${process.pid}\\)`));
    t.is((e as Error & { exitCode?: number }).exitCode, 2);
    release();
    t.false(existsSync(f));
  } finally {
    rmSync(s.jobDir, { recursive: true, force: true });
  }
});

test('a lock whose pid is alive but another process (other start time), or gone, is taken over', (t) => {
  const s = lab();
  try {
    const f = path.join(s.jobDir, 'probe.lock');
    for (const stale of [`${process.pid} 1\n`, '999999999 12345\n', `${process.pid}\n`]) {
      writeFileSync(f, stale);
      const release = lock(s);
      t.is(readFileSync(f, 'utf8'), `${process.pid} ${procStartTime(process.pid)}\n`, stale);
      release();
    }
  } finally {
    rmSync(s.jobDir, { recursive: true, force: true });
  }
});
