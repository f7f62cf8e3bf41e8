// Every family's topology picture, rendered at 100 % by headless Chromium (Debian's chromium): the
// page measures every text box of the Graphviz SVG in the browser and counts overlapping labels,
// the smallest font and whether every object and the legend are drawn; a screenshot is taken too.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCatalog } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { svg } from '../../lab/report/diagram.ts';
import { which } from '../../lab/runners/tools.ts';

const MEASURE = `
const texts = [...document.querySelectorAll('svg text')].filter((t) => t.textContent.trim());
const boxes = texts.map((t) => t.getBoundingClientRect());
let overlaps = 0;
const pairs = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (w > 1 && h > 1) { overlaps++; pairs.push(texts[i].textContent + ' / ' + texts[j].textContent); }
}
const sizes = texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * (t.getScreenCTM()?.a ?? 1));
document.body.dataset.texts = String(texts.length);
document.body.dataset.overlaps = String(overlaps);
document.body.dataset.pairs = pairs.slice(0, 5).join(' | ');
document.body.dataset.minfont = String(Math.min(...sizes).toFixed(1));
document.body.dataset.alltext = texts.map((t) => t.textContent).join('\\u0001');
document.body.dataset.done = 'ok';`;

const families = [...new Map(loadCatalog().map((t) => [t.family, t])).values()];

test('the catalogue has pictures to check', (t) => {
  t.true(families.length >= 4, families.map((f) => f.family).join(', '));
});

for (const topo of families) {
  test(`${topo.family}: topology picture at 100 % — no overlapping labels, readable fonts, every object, a legend`, (t) => {
    const chromium = which('chromium') ?? which('chromium-browser');
    if (!chromium) return t.fail('headless Chromium is needed: apt-get install chromium');
    if (!which('dot')) return t.fail('Graphviz is needed: apt-get install graphviz');
    const scenario = topo.scenarios[0]!;
    const plan = compileScenario(topo, scenario, 'pic001').plan;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-pic-'));
    try {
      const page = path.join(dir, `${topo.family}.html`);
      writeFileSync(page, `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">${svg(plan).replace(/^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?/, '')}<script>${MEASURE}</script></body></html>`);
      const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'profile')}`, '--force-device-scale-factor=1'];
      const dom = spawnSync(chromium, [...args, '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
      t.is(dom.status, 0, dom.stderr);
      const attr = (n: string) => new RegExp(`data-${n}="([^"]*)"`).exec(dom.stdout)?.[1] ?? '';
      t.is(attr('done'), 'ok', 'the measuring script ran');
      t.is(attr('overlaps'), '0', `overlapping labels: ${attr('pairs')}`);
      t.true(Number(attr('minfont')) >= 9, `smallest font ${attr('minfont')} px`);
      const text = attr('alltext').split('\u0001');
      for (const n of plan.namespaces) t.true(text.includes(n.object), `${n.object} is drawn`);
      t.true(text.includes('legend'), 'a legend is drawn');
      for (const i of plan.interfaces) t.true(text.includes(i.name), `${i.object}:${i.name} is drawn`);
      const png = path.join(dir, 'shot.png');
      const shot = spawnSync(chromium, [...args, `--screenshot=${png}`, '--window-size=1600,1200', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
      t.is(shot.status, 0, shot.stderr);
      const buf = readFileSync(png);
      t.is(buf.subarray(1, 4).toString(), 'PNG');
      t.is(buf.readUInt32BE(16), 1600, 'screenshot width');
      t.true(statSync(png).size > 20_000, 'the screenshot is not blank');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
