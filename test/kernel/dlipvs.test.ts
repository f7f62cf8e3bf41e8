/**
 * dlipvs (lab/runners/native/dlipvs.c, built from source) against `ipvsadm -R`, in a User-Mode
 * Linux guest (its own kernel: nothing here touches the host's network). Every IPVS table of every
 * catalogue scenario (each compiled plan's `ipvs` steps; tables with the same text are loaded
 * once) and hand-written tables with each line shape the compiler can emit that the catalogue does
 * not use (UDP with persistence, SCTP, timeouts at both bounds, weights 0 and 65535, other
 * schedulers, an empty line) are loaded twice in fresh namespaces: with `ipvsadm -R` in one, and
 * all of them with one dlipvs in the others; `ipvsadm -Ln`, `ipvsadm -S -n` (every flag),
 * `ipvsadm -Ln --thresholds` and the kernel's /proc/net/ip_vs of both must be identical.
 * Refusals: a line outside the grammar (forwarding other than masquerading, IPv6, fwmark, …) is
 * exit 2 with file:line and nothing applied in any namespace; a namespace not the lab's is exit 2,
 * nothing applied; a request the kernel refuses stops dlipvs there, exit 1, file:line.
 * Needs linux.uml with its modules, ipvsadm and gcc: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { executionSteps } from '../../lab/runners/execution.ts';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { runTestGuest, type TestGuest } from '../helpers/uml-guest.ts';

const GUEST = new URL('./dlipvs-guest.sh', import.meta.url).pathname;
const LAB = 'b1b1b1';

/** Every catalogue scenario's ipvs tables: text → the scenario/node pairs that have it. */
function catalogueTables(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const topo of loadCatalog()) {
    for (const s of topo.scenarios) {
      for (const x of executionSteps(compileScenario(topo, s, LAB).plan).filter((st) => st.tool === 'ipvs')) {
        const text = x.lines!.join('\n') + '\n';
        out.set(text, [...(out.get(text) ?? []), `${s.id}/${x.object}`]);
      }
    }
  }
  return out;
}

// Shapes the compiler (ipvsadmRestore, lab/services/ipvs/virtual-servers.ts) can write that the
// catalogue does not: persistence (sessionAffinity ClientIP), UDP and SCTP services, any weight.
const HAND = [
  [
    '-A -t 10.96.0.10:443 -s rr -p 10800',
    '-a -t 10.96.0.10:443 -r 10.0.0.2:8443 -m -w 1',
    '-A -u 10.96.0.10:53 -s wrr -p 1',
    '-a -u 10.96.0.10:53 -r 10.0.0.3:53 -m -w 0',
    '-a -u 10.96.0.10:53 -r 10.0.0.4:5353 -m -w 65535',
    '',
    '-A --sctp-service 10.96.0.11:9999 -s sh -p 2678400',
    '-a --sctp-service 10.96.0.11:9999 -r 10.0.0.5:9999 -m -w 3',
    '-A --sctp-service 10.96.0.12:1 -s rr',
    '-A -t 10.96.0.13:65535 -s lc',
    '-a -t 10.96.0.13:65535 -r 10.0.0.6:1 -m -w 2',
  ],
  ['-A -u 192.168.9.9:8080 -s rr', '-a -u 192.168.9.9:8080 -r 172.16.0.1:80 -m -w 1', '-a -u 192.168.9.9:8080 -r 172.16.0.2:80 -m -w 1'],
];

const GOOD = '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r 10.0.0.2:80 -m -w 1\n';
// Valid for ipvsadm, outside the grammar: refused before anything is applied (the line is line 3
// of the second file; the first file, in another namespace, is not applied either).
const OUTSIDE: Record<string, [string, RegExp]> = {
  route: ['-a -t 10.96.0.1:80 -r 10.0.0.3:80 -g -w 1', /unsupported: "-g" \(expected -m/],
  tunnel: ['-a -t 10.96.0.1:80 -r 10.0.0.3:80 -i -w 1', /unsupported: "-i" \(expected -m/],
  edit: ['-E -t 10.96.0.1:80 -s wrr', /unsupported: "-E" \(expected -A or -a\)/],
  fwmark: ['-A -f 1 -s rr', /unsupported: "-f" \(expected -t, -u or --sctp-service\)/],
  ipv6: ['-A -t [fd00::1]:80 -s rr', /invalid IPv4 address "\[fd00::1\]"/],
  'port-0': ['-A -t 10.96.0.2:0 -s rr -p 60', /invalid port "0"/],
  'no-timeout': ['-A -t 10.96.0.2:80 -s rr -p', /expected -A PROTO VIP:PORT -s SCHEDULER \[-p TIMEOUT\]/],
  'long-timeout': ['-A -t 10.96.0.2:80 -s rr -p 2678401', /invalid number "2678401"/],
  weight: ['-a -t 10.96.0.1:80 -r 10.0.0.3:80 -m -w 65536', /invalid number "65536"/],
  comment: ['-A -t 10.96.0.2:80 -s rr # a comment', /comments are not in the grammar/],
  flush: ['-C', /unsupported: "-C"/],
};

/**
 * /proc/net/ip_vs lists services in the order of the kernel's hash table, whose key mixes in the
 * namespace's own IPVS state (ip_vs_svc_hashkey, net/netfilter/ipvs/ip_vs_ctl.c): two namespaces
 * holding the same services list them in different orders. Each service with its real servers (in
 * the order they were added, a list) is one block; the blocks are compared sorted.
 */
function serviceBlocks(proc: string): string {
  const [head, ...rest] = proc.replace(/\n$/, '').split(/\n(?=\S)/);
  return [head, ...rest.sort()].join('\n');
}

function bootGuest(dir: string, bin: string): Promise<TestGuest> {
  return runTestGuest({ init: GUEST, dir, umid: `dlipvs-test-${process.pid}`, mem: '384M', vars: { DLIPVS_DIR: dir, DLIPVS_BIN: bin }, timeoutMs: 8 * 60_000 });
}

test('dlipvs loads the same IPVS tables as ipvsadm -R for every catalogue table and line shape, and refuses what is outside its grammar', async (t) => {
  t.truthy(umlBinary(), 'needs linux.uml (apt-get install user-mode-linux)');
  t.truthy(umlKernelVersion(), 'needs the UML modules under /usr/lib/uml/modules');
  t.true(existsSync('/usr/sbin/ipvsadm'), 'needs ipvsadm (apt-get install ipvsadm)');
  const built = ensureNativeTool('dlipvs');
  t.truthy(built.path, built.error);
  const tables = catalogueTables();
  const scenarios = new Set([...tables.values()].flat().map((w) => w.split('/')[0]));
  t.log(`${[...tables.values()].flat().length} ipvs tables of ${scenarios.size} scenarios, ${tables.size} distinct`);
  for (const fam of ['eni-', 'eniip-', 'trunk-', 'kproxy-ipvs-1']) t.true([...scenarios].some((s) => s!.startsWith(fam)), `no ${fam} table`);
  const cases = [...tables.keys(), ...HAND.map((l) => l.join('\n') + '\n')];

  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'dlipvs-test-'));
  try {
    writeFileSync(join(dir, 'lab'), `${LAB}\n`);
    cases.forEach((text, i) => {
      mkdirSync(join(dir, 'cases', String(i).padStart(3, '0')), { recursive: true });
      writeFileSync(join(dir, 'cases', String(i).padStart(3, '0'), 'table'), text);
    });
    const bad = (name: string, files: Record<string, string>, args: string[]) => {
      mkdirSync(join(dir, 'bad', name), { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, 'bad', name, f), text);
      writeFileSync(join(dir, 'bad', name, 'args'), args.join('\n') + '\n');
    };
    const two = ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one', '/run/netns/dl-@LAB@-r2', '@DIR@/two'];
    for (const [name, [line]] of Object.entries(OUTSIDE)) bad(`outside-${name}`, { one: GOOD, two: `${GOOD}-A -t 10.96.0.5:80 -s rr\n${line}\n` }, two);
    bad('foreign-namespace', { one: GOOD }, ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one', '/run/netns/dl-ffffff-other', '@DIR@/one']);
    bad('kernel-exists', { one: GOOD, two: '-A -t 10.96.0.7:80 -s rr\n-A -t 10.96.0.7:80 -s rr\n-A -t 10.96.0.8:80 -s rr\n' }, two);
    bad('kernel-no-service', { one: GOOD, two: '-a -t 10.96.0.9:80 -r 10.0.0.2:80 -m -w 1\n-A -t 10.96.0.9:80 -s rr\n' }, two);
    bad('kernel-no-scheduler', { one: '-A -t 10.96.0.9:80 -s nosuchsched\n-A -t 10.96.0.10:80 -s rr\n' }, ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one']);

    const guest = await bootGuest(dir, built.path!);
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : `(no ${f})`);
    t.is(guest.code, 0, `guest failed (${guest.code}): ${read('guest.err')}\n${guest.console}`);

    // Every table: dlipvs's namespace as ipvsadm's, by every dump.
    t.is(read('dlipvs.rc').trim(), '0', read('dlipvs.err'));
    const status = read('dlipvs.out').split('\n').filter(Boolean);
    t.is(status.length, cases.length, 'one status line per file');
    status.forEach((l, i) => t.regex(l, new RegExp(`^${i + 1}\\t0\\t\\d+\\.\\d{6}$`)));
    cases.forEach((text, i) => {
      const c = `cases/${String(i).padStart(3, '0')}`;
      const name = tables.get(text)?.[0] ?? `hand-written ${i - tables.size + 1}`;
      t.is(read(`${c}/ipvsadm.rc`).trim(), '0', `${name}: ipvsadm -R failed: ${read(`${c}/ipvsadm.err`)}`);
      for (const d of ['Ln', 'save', 'thresholds']) t.is(read(`${c}/b.${d}`), read(`${c}/a.${d}`), `${name}: ${d} differs`);
      t.is(serviceBlocks(read(`${c}/b.proc`)), serviceBlocks(read(`${c}/a.proc`)), `${name}: /proc/net/ip_vs differs`);
      // Not two empty or failed dumps: each service of the table is in the saved table.
      const save = read(`${c}/b.save`);
      for (const l of text.split('\n').filter((x) => x.startsWith('-A '))) t.true(save.includes(`${l}\n`), `${name}: "${l}" missing from\n${save}`);
      t.is(save.split('\n').filter(Boolean).length, text.split('\n').filter(Boolean).length, `${name}: not every line is in the table`);
    });
    t.regex(read(`cases/${String(tables.size).padStart(3, '0')}/b.save`), /-A -u 10\.96\.0\.10:53 -s wrr -p 1\n/);
    t.regex(read(`cases/${String(tables.size).padStart(3, '0')}/b.proc`), /^SCTP {2}0A60000B:270F sh +persistent 267840000 FFFFFFFF$/m);

    const b = (name: string, f: string) => read(`bad/${name}/${f}`);
    const empty = (name: string) => {
      for (const ns of [`dl-${LAB}-r1`, `dl-${LAB}-r2`, 'dl-ffffff-other']) t.is(b(name, `${ns}.save`), '', `${name}: ${ns} was changed`);
    };
    for (const [name, [line, why]] of Object.entries(OUTSIDE)) {
      const n = `outside-${name}`;
      t.is(b(n, 'dlipvs.rc').trim(), '2', `${n}: ${b(n, 'dlipvs.err')}`);
      t.true(b(n, 'dlipvs.err').startsWith(`${join(dir, 'bad', n, 'two')}:4: ${line}: `), b(n, 'dlipvs.err'));
      t.regex(b(n, 'dlipvs.err'), why);
      t.is(b(n, 'dlipvs.out'), '');
      empty(n);
    }
    t.is(b('foreign-namespace', 'dlipvs.rc').trim(), '2');
    t.regex(b('foreign-namespace', 'dlipvs.err'), /dl-ffffff-other is not a namespace of lab b1b1b1/);
    empty('foreign-namespace');

    // Refused by the kernel: the files before were applied, the line's file up to the line, nothing after.
    t.is(b('kernel-exists', 'dlipvs.rc').trim(), '1');
    t.true(b('kernel-exists', 'dlipvs.err').startsWith(`${join(dir, 'bad/kernel-exists/two')}:2: -A -t 10.96.0.7:80 -s rr: File exists`), b('kernel-exists', 'dlipvs.err'));
    t.regex(b('kernel-exists', 'dlipvs.out'), /^1\t0\t\d+\.\d{6}\n2\t1\t\d+\.\d{6}\n$/);
    t.is(b('kernel-exists', `dl-${LAB}-r1.save`), '-A -t 10.96.0.1:80 -s rr\n-a -t 10.96.0.1:80 -r 10.0.0.2:80 -m -w 1\n');
    t.is(b('kernel-exists', `dl-${LAB}-r2.save`), '-A -t 10.96.0.7:80 -s rr\n');
    t.is(b('kernel-no-service', 'dlipvs.rc').trim(), '1');
    t.regex(b('kernel-no-service', 'dlipvs.err'), /two:1: -a -t 10\.96\.0\.9:80 -r 10\.0\.0\.2:80 -m -w 1: No such process.*: Service not defined/);
    t.is(b('kernel-no-service', `dl-${LAB}-r2.save`), '');
    t.is(b('kernel-no-scheduler', 'dlipvs.rc').trim(), '1');
    t.regex(b('kernel-no-scheduler', 'dlipvs.err'), /one:1: -A -t 10\.96\.0\.9:80 -s nosuchsched: .*Scheduler or persistence engine not found/);
    t.is(b('kernel-no-scheduler', `dl-${LAB}-r1.save`), '');
  } finally {
    if (!process.env.DLIPVS_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.log(`kept ${dir}`);
  }
});
