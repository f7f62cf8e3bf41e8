/**
 * dlnet (lab/runners/native/dlnet.c, built from source) against `ip -batch`, in a User-Mode Linux
 * guest (its own kernel: nothing here touches the host's network). The `ip` batches of real
 * compiled scenarios — a set that covers every line shape the whole catalogue produces, with
 * every family — are applied twice in fresh namespaces of the same names: one
 * `ip -n NS -batch FILE` per namespace, then one dlnet for all of them; each namespace's `ip -d`
 * dumps of links, addresses, routes of every table, rules and neighbours must then be the same,
 * once what the kernel decides on its own is set aside (see normalize). Refusals: a line the
 * kernel refuses or dlnet does not know stops dlnet on the line where `ip -batch` stops
 * (file:line, later lines not applied), a line valid for ip but outside the grammar is refused,
 * namespaces that are not the lab's are never entered. In the agent: a refused line in a
 * scenario's batch fails the build at that step, with dlnet's file:line.
 * Needs linux.uml and gcc: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog, locateScenario } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { runScenario } from '../../lab/run.ts';
import { executionSteps } from '../../lab/runners/execution.ts';
import type { Scenario, Topology } from '../../lab/model.ts';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { runTestGuest, type TestGuest } from '../helpers/uml-guest.ts';

const GUEST = new URL('./dlnet-guest.sh', import.meta.url).pathname;
// The refusal cases' labs (ip's, dlnet's); the compiled cases are built in lab B's names both times.
const [LAB_A, LAB_B] = ['a0a0a0', 'b1b1b1'];
const KEYWORDS = new Set('link add set address neigh replace route rule type veth vlan ipvlan dummy bridge peer name index netns id mode l2 l3 l3s private vepa up down arp on off master dev scope host global lladdr nud permanent noarp via onlink table default main local from to iif lookup pref'.split(' '));

/** A line's shape: its keywords, every value replaced by V (`link set X up` and `… name eth0` differ). */
const shape = (line: string) => line.split(/\s+/).map((w) => (KEYWORDS.has(w) ? w : 'V')).join(' ');

interface Case { name: string; family: string; objects: string[]; steps: { object: string; lines: string[] }[] }

/** Every compiled plan of the catalogue (each scenario, then each topology alone), its ip steps for two labs. */
function catalogueCases(): Case[] {
  const out: Case[] = [];
  const topos = loadCatalog();
  for (const topo of topos) for (const s of topo.scenarios) out.push(ipCase(topo, s, s.id, s.id.replace(/-\d.*$/, '')));
  for (const topo of topos) out.push(ipCase(topo, undefined, `${topo.family}-topology`, topo.family));
  return out;
}

function ipCase(topo: Topology, s: Scenario | undefined, name: string, family: string): Case {
  const plan = compileScenario(topo, s, LAB_B).plan;
  return {
    name, family,
    objects: plan.namespaces.map((n) => n.object),
    steps: executionSteps(plan).filter((x) => x.tool === 'ip' && x.object !== null).map((x) => ({ object: x.object!, lines: x.lines! })),
  };
}

/** Greedy: the fewest cases whose lines show every shape the catalogue has, plus one case per family. */
function coveringCases(all: Case[]): { chosen: Case[]; shapes: Set<string> } {
  const shapesOf = (c: Case) => new Set(c.steps.flatMap((s) => s.lines.map(shape)));
  const shapes = new Set(all.flatMap((c) => [...shapesOf(c)]));
  const chosen: Case[] = [];
  const left = new Set(shapes);
  while (left.size) {
    const best = all.reduce((x, y) => ([...shapesOf(y)].filter((s) => left.has(s)).length > [...shapesOf(x)].filter((s) => left.has(s)).length ? y : x));
    chosen.push(best);
    for (const s of shapesOf(best)) left.delete(s);
  }
  for (const fam of new Set(all.map((c) => c.family))) if (!chosen.some((c) => c.family === fam)) chosen.push(all.find((c) => c.family === fam)!);
  return { chosen, shapes };
}

/**
 * What the kernel decides on its own: the random MAC of a device made without one (a dummy), a
 * bridge's running timers, the order of IPv6 routes to one destination on several devices (each
 * added when its link-local address passes duplicate address detection), and the order of the
 * neighbour table's dump (a hash table with a random seed per namespace).
 */
function normalize(dump: string): string {
  let out = dump.replace(/(\w+_timer)\s+[\d.]+/g, '$1 T');
  for (const block of dump.split(/\n(?=\d+: )/)) {
    if (!/\n\s+dummy\b/.test(block)) continue;
    for (const m of block.matchAll(/link\/ether ([0-9a-f:]{17})/g)) out = out.replaceAll(m[1]!, 'RANDOM-MAC');
  }
  const lines = out.split('\n');
  const v6 = /^[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*(\/\d+)?$/;
  const key = (l: string) => {
    if (/^\S+ dev \S+ .*\b(PERMANENT|NOARP|REACHABLE|STALE|DELAY|PROBE|FAILED|INCOMPLETE)\s*$/.test(l)) return 'neigh';
    const w = l.split(' ');
    return v6.test(w[0]!) ? w[0] : v6.test(w[1] ?? '') && /^[a-z]+$/.test(w[0]!) ? `${w[0]} ${w[1]}` : undefined;
  };
  for (let i = 0; i < lines.length;) {
    let j = i + 1;
    if (key(lines[i]!) !== undefined) while (j < lines.length && key(lines[j]!) === key(lines[i]!)) j++;
    lines.splice(i, j - i, ...lines.slice(i, j).sort());
    i = j;
  }
  return lines.join('\n');
}

function bootGuest(dir: string, bin: string): Promise<TestGuest> {
  return runTestGuest({ init: GUEST, dir, umid: `dlnet-test-${process.pid}`, mem: '512M', vars: { DLNET_DIR: dir, DLNET_BIN: bin }, timeoutMs: 8 * 60_000 });
}

const BAD: Record<string, { batch: string[]; files?: Record<string, string[]>; args?: string[] }> = {
  // The second file's second line is refused by the kernel: the first file was applied, nothing after the line.
  'kernel-refuses': {
    batch: ['link add d0 type dummy', 'link add d0 type dummy', 'link add d1 type dummy'],
    files: { ok: ['link add p0 type dummy'] },
    args: [LAB_B, `/run/netns/dl-${LAB_B}-peer`, '@DIR@/ok', `/run/netns/dl-${LAB_B}-n`, '@DIR@/batch'],
  },
  'unknown-keyword': { batch: ['link add d0 type dummy', 'address add 10.1.0.1/24 dev d0 frobnicate 1', 'link add d1 type dummy'] },
  'unknown-device': { batch: ['link add d0 type dummy', 'route add 10.2.0.0/16 dev nosuchdev', 'link add d1 type dummy'] },
  // Valid for ip, outside the grammar: refused, never guessed.
  'not-in-grammar': { batch: ['link add d0 type dummy', 'route add blackhole 10.9.0.0/16', 'link add d1 type dummy'] },
  // A veth peer sent into another lab's namespace: refused before any request.
  'foreign-peer': { batch: ['link add d0 type dummy', 'link add e0 type veth peer name e1 netns dl-ffffff-other'] },
  // dlnet asked to enter another lab's namespace: nothing applied anywhere.
  'foreign-namespace': { batch: ['link add d0 type dummy'], args: [LAB_B, `/run/netns/dl-${LAB_B}-n`, '@DIR@/batch', '/run/netns/dl-ffffff-other', '@DIR@/batch'] },
  good: { batch: ['link add g0 type dummy', 'link set g0 up', 'address add 10.1.2.3/24 dev g0'], args: [LAB_B, `/run/netns/dl-${LAB_B}-n`, '@DIR@/batch', `/run/netns/dl-${LAB_B}-peer`, '@DIR@/batch'] },
};

test.serial('dlnet builds the same kernel state as ip -batch for every line shape of the catalogue, and stops where ip stops', async (t) => {
  t.truthy(umlBinary(), 'needs linux.uml (apt-get install user-mode-linux)');
  t.truthy(umlKernelVersion(), 'needs the UML modules under /usr/lib/uml/modules');
  const built = ensureNativeTool('dlnet');
  t.truthy(built.path, built.error);
  const all = catalogueCases();
  const { chosen, shapes } = coveringCases(all);
  t.log(`${shapes.size} line shapes in ${all.length} compiled plans; compared: ${chosen.map((c) => c.name).join(', ')}`);
  for (const fam of ['eni', 'eniip', 'ipvlan', 'trunk', 'kproxy', 'calico']) t.true(chosen.some((c) => c.name.startsWith(fam)), `no ${fam} case`);
  t.true(chosen.some((c) => c.steps.some((s) => s.lines.some((l) => /type vlan/.test(l) && / netns /.test(l)))), 'no VLAN made into another namespace');

  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'dlnet-test-'));
  try {
    writeFileSync(join(dir, 'dumps.batch'), 'link show\naddress show\nroute show table all\nrule show\nneigh show\n');
    for (const c of chosen) {
      const cd = join(dir, 'cases', c.name);
      mkdirSync(join(cd, 'files'), { recursive: true });
      writeFileSync(join(cd, 'lab'), `${LAB_B}\n`);
      writeFileSync(join(cd, 'objects'), c.objects.join('\n') + '\n');
      const steps = c.steps.map((s, i) => {
        const f = join(cd, 'files', `${String(i).padStart(3, '0')}-${s.object}.ip`);
        writeFileSync(f, s.lines.join('\n') + '\n');
        return `${s.object}\t${f}`;
      });
      writeFileSync(join(cd, 'steps'), steps.join('\n') + '\n');
    }
    writeFileSync(join(dir, 'bad.labs'), `${LAB_A} ${LAB_B}\n`);
    for (const [name, b] of Object.entries(BAD)) {
      const bd = join(dir, 'bad', name);
      mkdirSync(bd, { recursive: true });
      writeFileSync(join(bd, 'batch'), b.batch.join('\n') + '\n');
      for (const [f, lines] of Object.entries(b.files ?? {})) writeFileSync(join(bd, f), lines.join('\n') + '\n');
      if (b.args) writeFileSync(join(bd, 'args'), b.args.join('\n') + '\n');
    }

    const guest = await bootGuest(dir, built.path!);
    let guestErr = '';
    try { guestErr = readFileSync(join(dir, 'guest.err'), 'utf8'); } catch { /* the guest stopped before it wrote one */ }
    t.is(guest.code, 0, `guest failed (${guest.code}): ${guestErr}\n${guest.console}`);

    for (const c of chosen) {
      const cd = join(dir, 'cases', c.name);
      const read = (f: string) => readFileSync(join(cd, f), 'utf8');
      t.is(read('ip.rc').trim(), '0', `${c.name}: ip -batch failed: ${read('ip.err')}`);
      t.is(read('dlnet.rc').trim(), '0', `${c.name}: dlnet failed: ${read('dlnet.err')}`);
      const status = read('dlnet.out').split('\n').filter(Boolean);
      t.is(status.length, c.steps.length, `${c.name}: one status line per file`);
      status.forEach((l, i) => t.regex(l, new RegExp(`^${i + 1}\\t0\\t\\d+\\.\\d{6}$`)));
      for (const o of c.objects) {
        const [a, b] = ['a', 'b'].map((s) => normalize(read(join(s, `${o}.dump`))));
        t.true(a!.includes('lo:'), `${c.name}/${o}: no dump`);
        t.is(b, a, `${c.name}/${o}: dlnet's namespace differs from ip's`);
        // Not two empty or failed dumps: the batches' addresses are there.
        for (const l of c.steps.filter((s) => s.object === o).flatMap((s) => s.lines)) {
          const addr = /^address add ([\d.]+)/.exec(l)?.[1];
          if (addr) t.true(b!.includes(`inet ${addr}`), `${c.name}/${o}: ${addr} missing from the dump`);
        }
      }
    }

    const bad = (name: string, f: string) => readFileSync(join(dir, 'bad', name, f), 'utf8');
    const batchOf = (name: string) => join(dir, 'bad', name, 'batch');
    const links = (name: string, who: string) => bad(name, `${who}.links`).split('\n').filter(Boolean).map((l) => l.split(/:\s+/)[1]!.split('@')[0]!);
    // Refused by the kernel or not understood: dlnet stops on the line ip stops on (ip names it for
    // the kernel's refusals, and exits on its own parse errors), nothing after it is applied.
    const refusals = [
      ['kernel-refuses', 2, /File exists/, /Command failed \S+:2\n/],
      ['unknown-keyword', 2, /unsupported: "frobnicate"/, /"frobnicate" is a garbage/],
      ['unknown-device', 2, /Cannot find device "nosuchdev"/, /Command failed \S+:2\n/],
    ] as const;
    for (const [name, line, why, ipSaid] of refusals) {
      t.not(bad(name, 'ip.rc').trim(), '0', `${name}: ip accepted it`);
      t.regex(bad(name, 'ip.err'), ipSaid, `${name}: ip stopped elsewhere`);
      t.is(bad(name, 'dlnet.rc').trim(), '1', `${name}: ${bad(name, 'dlnet.err')}`);
      t.true(bad(name, 'dlnet.err').startsWith(`${batchOf(name)}:${line}: ${BAD[name]!.batch[line - 1]}: `), bad(name, 'dlnet.err'));
      t.regex(bad(name, 'dlnet.err'), why);
      t.deepEqual(links(name, 'dlnet'), links(name, 'ip'), `${name}: dlnet and ip left different links`);
      t.false(links(name, 'dlnet').includes('d1'), `${name}: a line after the failure was applied`);
    }
    t.regex(bad('kernel-refuses', 'dlnet.out'), /^1\t0\t\d+\.\d{6}\n2\t1\t\d+\.\d{6}\n$/);
    t.true(links('kernel-refuses', 'dlnet').includes('d0'));
    // Valid ip, outside the grammar: dlnet refuses where ip goes on.
    t.is(bad('not-in-grammar', 'ip.rc').trim(), '0');
    t.is(bad('not-in-grammar', 'dlnet.rc').trim(), '1');
    t.true(bad('not-in-grammar', 'dlnet.err').startsWith(`${batchOf('not-in-grammar')}:2: route add blackhole 10.9.0.0/16: unsupported: "blackhole"`), bad('not-in-grammar', 'dlnet.err'));
    t.true(links('not-in-grammar', 'ip').includes('d1'));
    t.false(links('not-in-grammar', 'dlnet').includes('d1'));
    // Another lab's namespaces: never entered, never given a device.
    t.is(bad('foreign-peer', 'dlnet.rc').trim(), '1');
    t.regex(bad('foreign-peer', 'dlnet.err'), /:2: .*netns "dl-ffffff-other" is not a namespace of lab b1b1b1/);
    t.is(bad('foreign-peer', 'other.links'), bad('foreign-peer', 'other-ip.links'), 'dlnet changed another lab\'s namespace');
    t.regex(bad('foreign-peer', 'other-ip.links'), /e1@/); // (ip, unchecked, did put the peer there)
    t.false(links('foreign-peer', 'dlnet').includes('e0'));
    t.is(bad('foreign-namespace', 'dlnet.rc').trim(), '2');
    t.is(bad('foreign-namespace', 'dlnet.out'), '');
    t.false(links('foreign-namespace', 'dlnet').includes('d0'), 'applied before the arguments were checked');
    t.is(bad('foreign-namespace', 'other.links'), bad('foreign-namespace', 'other-ip.links'));
    // Two files, two status lines, both applied.
    t.is(bad('good', 'dlnet.rc').trim(), '0', bad('good', 'dlnet.err'));
    t.regex(bad('good', 'dlnet.out'), /^1\t0\t\d+\.\d{6}\n2\t0\t\d+\.\d{6}\n$/);
    t.deepEqual(links('good', 'dlnet'), links('good', 'ip'));
  } finally {
    if (!process.env.DLNET_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.log(`kept ${dir}`);
  }
});

test.serial('in the agent: a line dlnet refuses fails the build at its step, with the file and line (eniip-5, UML)', async (t) => {
  const { topo, scenario } = locateScenario('eniip-5');
  const bad = 'route add 10.99.0.0/16 dev eth0 frobnicate 1';
  let where: { step: number; file: string; manifestLine: string } | undefined;
  const report = await runScenario(topo, scenario, {
    runner: 'uml', timeoutMs: 5 * 60_000,
    // Before the job runs: the bad line becomes line 2 of ecs1's ip batch (the job is plain files).
    execute: async (job) => {
      const steps = readFileSync(join(job.dir, 'manifest.tsv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
      const i = steps.findIndex((l) => /^ip\tdl-[0-9a-f]{6}-ecs1\t/.test(l));
      const file = steps[i]!.split('\t')[2]!;
      const lines = readFileSync(join(job.dir, file), 'utf8').split('\n');
      lines.splice(1, 0, bad);
      writeFileSync(join(job.dir, file), lines.join('\n'));
      where = { step: i + 1, file, manifestLine: steps[i]! };
      return undefined;
    },
  });
  t.truthy(where, 'ecs1 has no ip step');
  t.false(report.passed);
  t.regex(report.error ?? '', /^the build failed on the uml runner/);
  t.true((report.error ?? '').includes(`step ${where!.step} failed: ${where!.manifestLine}`), report.error);
  // dlnet's words, not ip's ('Error: either "to" is duplicate, or "frobnicate" is a garbage.'): it ran.
  t.true((report.error ?? '').includes(`${where!.file}:2: ${bad}: unsupported: "frobnicate"`), report.error);
});
