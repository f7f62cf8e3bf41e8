// The HTML report of a real run, rendered by headless Chromium (Debian's chromium): the page's
// own script runs, counts the checks, and the diagram (Graphviz SVG) shows the observed path.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from '../../lab/runners/tools.ts';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');

test('html report: self-contained, rendered by headless Chromium, diagram with the path', (t) => {
  const chromium = which('chromium') ?? which('chromium-browser');
  if (!chromium) return t.fail('headless Chromium is needed: apt-get install chromium');
  if (!which('dot')) return t.fail('Graphviz is needed for the diagram: apt-get install graphviz');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-html-'));
  try {
    const out = path.join(dir, 'lite-slb.html');
    const r = spawnSync(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--reporter', 'html', '--output', out], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const page = readFileSync(out, 'utf8');
    t.notRegex(page, /<(script|link|img)[^>]+(src|href)=/, 'the page loads nothing from outside');
    t.regex(page, /<svg/);
    t.regex(page, /stroke="#d62728"/, 'the observed path is drawn');
    const dom = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`, '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 60_000 });
    t.is(dom.status, 0, dom.stderr);
    t.regex(dom.stdout, /data-rendered="ok"/, 'the page script ran in the browser');
    t.regex(dom.stdout, /data-failed="0"/);
    t.regex(dom.stdout, /<p id="summary">5 of 5 checks passed<\/p>/);
    t.regex(dom.stdout, /client:eth0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
