/**
 * dlipset (lab/runners/native/dlipset.c, built from source) against `ipset restore`, in a
 * User-Mode Linux guest (its own kernel: nothing here touches the host's network). Every ipset file
 * of every catalogue scenario (each compiled plan's `ipset` steps; files with the same text are
 * loaded once) and a hand-written file with each entry shape the compiler can emit that the
 * catalogue does not use (UDP and SCTP entries, networks and single addresses in hash:ip,port,net,
 * a narrower bitmap range, other hash sizes) are loaded twice in fresh namespaces: with
 * `ipset restore` in one, all of them with one dlipset in the others; `ipset save` and `ipset list`
 * of both must be the same once what the kernel draws at random is set aside (see normalize).
 * Refusals: a line outside the grammar is exit 2 with file:line and nothing applied in any
 * namespace; a namespace not the lab's is exit 2; a request the kernel refuses stops dlipset there
 * (exit 1, file:line).
 * Needs linux.uml with its modules, ipset and gcc: a missing prerequisite FAILS the file.
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

const GUEST = new URL('./dlipset-guest.sh', import.meta.url).pathname;
const LAB = 'b1b1b1';

/** Every catalogue scenario's ipset files: text → the scenario/node pairs that have it. */
function catalogueFiles(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const topo of loadCatalog()) {
    for (const s of topo.scenarios) {
      for (const x of executionSteps(compileScenario(topo, s, LAB).plan).filter((st) => st.tool === 'ipset')) {
        const text = x.lines!.join('\n') + '\n';
        out.set(text, [...(out.get(text) ?? []), `${s.id}/${x.object}`]);
      }
    }
  }
  return out;
}

const HAND = [
  'create H1 hash:ip,port family inet hashsize 64 maxelem 1000',
  'add H1 10.0.0.1,udp:53',
  'add H1 10.0.0.1,sctp:9999',
  'add H1 10.0.0.2,tcp:65535',
  '',
  'create H2 hash:ip,port,net family inet hashsize 1024 maxelem 65536',
  'add H2 192.168.64.57,tcp:8090,10.0.0.0/8',
  'add H2 192.168.64.57,tcp:8090,1.2.3.4',
  'add H2 192.168.64.57,udp:8090,1.2.3.4/32',
  'add H2 192.168.64.57,sctp:8090,172.16.0.0/12',
  'create H3 hash:ip,port,ip family inet hashsize 1024 maxelem 65536',
  'add H3 10.0.0.5,udp:53,10.0.0.5',
  'create B1 bitmap:port range 0-65535',
  'add B1 0',
  'add B1 30080',
  'add B1 65535',
  'create B2 bitmap:port range 30000-32767',
  'add B2 30000',
  'create H4 hash:ip family inet hashsize 1024 maxelem 65536',
  'add H4 10.96.0.1',
];

const GOOD = 'create S hash:ip family inet hashsize 1024 maxelem 65536\nadd S 10.0.0.1\n';
// Valid for ipset restore, outside the grammar: refused before anything is applied (line 3 of the second file).
const OUTSIDE: Record<string, [string, RegExp]> = {
  'set-type': ['create N hash:net family inet hashsize 1024 maxelem 65536', /unsupported set type "hash:net"/],
  inet6: ['create N hash:ip family inet6 hashsize 1024 maxelem 65536', /expected create NAME hash:ip family inet hashsize N maxelem N/],
  'not-created': ['add KUBE-CLUSTER-IP 10.0.0.1,tcp:80', /set "KUBE-CLUSTER-IP" is not created earlier in this file/],
  protocol: ['add T 10.0.0.1,icmp:0', /unsupported protocol "icmp"/],
  'net-in-ip': ['add U 10.0.0.1,tcp:80,10.0.0.0/8', /hash:ip,port,ip takes an address, not a network/],
  exist: ['add S 10.0.0.2 -exist', /expected add NAME ENTRY/],
  destroy: ['destroy S', /unsupported: "destroy"/],
  comment: ['add S 10.0.0.3 # x', /comments are not in the grammar/],
};
const SETS = 'create T hash:ip,port family inet hashsize 1024 maxelem 65536\ncreate U hash:ip,port,ip family inet hashsize 1024 maxelem 65536\n';

/**
 * What the kernel draws at random: each hash set's initval (its hash seed), so the order of its
 * members and the memory its buckets take. Those are set aside; members are compared sorted.
 */
function normalize(dump: string): string {
  const lines = dump.replace(/initval 0x[0-9a-f]+/g, 'initval X').replace(/^Size in memory: \d+$/gm, 'Size in memory: N').split('\n');
  const member = (l: string) => l.startsWith('add ') || /^\d/.test(l); // a save's add lines, a list's members
  for (let i = 0; i < lines.length;) {
    let j = i;
    while (j < lines.length && member(lines[j]!)) j++;
    if (j > i) lines.splice(i, j - i, ...lines.slice(i, j).sort());
    i = Math.max(j, i + 1);
  }
  return lines.join('\n');
}

function bootGuest(dir: string, bin: string): Promise<TestGuest> {
  return runTestGuest({ init: GUEST, dir, umid: `dlipset-test-${process.pid}`, mem: '384M', vars: { DLIPSET_DIR: dir, DLIPSET_BIN: bin }, timeoutMs: 8 * 60_000 });
}

test('dlipset makes the same ipsets as ipset restore for every catalogue file and entry shape, and refuses what is outside its grammar', async (t) => {
  t.truthy(umlBinary(), 'needs linux.uml (apt-get install user-mode-linux)');
  t.truthy(umlKernelVersion(), 'needs the UML modules under /usr/lib/uml/modules');
  t.true(existsSync('/usr/sbin/ipset'), 'needs ipset (apt-get install ipset)');
  const built = ensureNativeTool('dlipset');
  t.truthy(built.path, built.error);
  const files = catalogueFiles();
  const scenarios = new Set([...files.values()].flat().map((w) => w.split('/')[0]));
  t.log(`${[...files.values()].flat().length} ipset files of ${scenarios.size} scenarios, ${files.size} distinct`);
  for (const fam of ['eni-', 'eniip-', 'trunk-', 'kproxy-ipvs-1']) t.true([...scenarios].some((s) => s!.startsWith(fam)), `no ${fam} file`);
  const cases = [...files.keys(), HAND.join('\n') + '\n'];

  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'dlipset-test-'));
  try {
    writeFileSync(join(dir, 'lab'), `${LAB}\n`);
    cases.forEach((text, i) => {
      mkdirSync(join(dir, 'cases', String(i).padStart(3, '0')), { recursive: true });
      writeFileSync(join(dir, 'cases', String(i).padStart(3, '0'), 'restore'), text);
    });
    const bad = (name: string, fs: Record<string, string>, args: string[]) => {
      mkdirSync(join(dir, 'bad', name), { recursive: true });
      for (const [f, text] of Object.entries(fs)) writeFileSync(join(dir, 'bad', name, f), text);
      writeFileSync(join(dir, 'bad', name, 'args'), args.join('\n') + '\n');
    };
    const two = ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one', '/run/netns/dl-@LAB@-r2', '@DIR@/two'];
    for (const [name, [line]] of Object.entries(OUTSIDE)) bad(`outside-${name}`, { one: GOOD, two: `${GOOD}${SETS}${line}\n` }, two);
    bad('foreign-namespace', { one: GOOD }, ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one', '/run/netns/dl-ffffff-other', '@DIR@/one']);
    bad('kernel-exists', { one: GOOD, two: `${GOOD}add S 10.0.0.1\nadd S 10.0.0.9\n` }, two);
    bad('kernel-create-exists', { one: `${GOOD}${GOOD.split('\n')[0]}\n` }, ['@LAB@', '/run/netns/dl-@LAB@-r1', '@DIR@/one']);

    const guest = await bootGuest(dir, built.path!);
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : `(no ${f})`);
    t.is(guest.code, 0, `guest failed (${guest.code}): ${read('guest.err')}\n${guest.console}`);

    t.is(read('dlipset.rc').trim(), '0', read('dlipset.err'));
    const status = read('dlipset.out').split('\n').filter(Boolean);
    t.is(status.length, cases.length, 'one status line per file');
    status.forEach((l, i) => t.regex(l, new RegExp(`^${i + 1}\\t0\\t\\d+\\.\\d{6}$`)));
    cases.forEach((text, i) => {
      const c = `cases/${String(i).padStart(3, '0')}`;
      const name = files.get(text)?.[0] ?? 'hand-written';
      t.is(read(`${c}/ipset.rc`).trim(), '0', `${name}: ipset restore failed: ${read(`${c}/ipset.err`)}`);
      for (const d of ['save', 'list']) t.is(normalize(read(`${c}/b.${d}`)), normalize(read(`${c}/a.${d}`)), `${name}: ipset ${d} differs`);
      // Not two empty or failed dumps: every set and entry of the file is in the saved sets.
      const save = read(`${c}/b.save`);
      for (const l of text.split('\n').filter(Boolean)) t.true(save.includes(l.replace(/^(add \S+ \S+),(\S+)\/32$/, '$1,$2')), `${name}: "${l}" missing from\n${save}`);
      t.regex(read(`${c}/b.list`), /^Revision: \d+$/m);
    });

    const b = (name: string, f: string) => read(`bad/${name}/${f}`);
    const empty = (name: string) => {
      for (const ns of [`dl-${LAB}-r1`, `dl-${LAB}-r2`, 'dl-ffffff-other']) t.is(b(name, `${ns}.save`), '', `${name}: ${ns} was changed`);
    };
    for (const [name, [line, why]] of Object.entries(OUTSIDE)) {
      const n = `outside-${name}`;
      t.is(b(n, 'dlipset.rc').trim(), '2', `${n}: ${b(n, 'dlipset.err')}`);
      t.true(b(n, 'dlipset.err').startsWith(`${join(dir, 'bad', n, 'two')}:5: ${line}: `), b(n, 'dlipset.err'));
      t.regex(b(n, 'dlipset.err'), why);
      t.is(b(n, 'dlipset.out'), '');
      empty(n);
    }
    t.is(b('foreign-namespace', 'dlipset.rc').trim(), '2');
    t.regex(b('foreign-namespace', 'dlipset.err'), /dl-ffffff-other is not a namespace of lab b1b1b1/);
    empty('foreign-namespace');
    t.is(b('kernel-exists', 'dlipset.rc').trim(), '1');
    t.true(b('kernel-exists', 'dlipset.err').startsWith(`${join(dir, 'bad/kernel-exists/two')}:3: add S 10.0.0.1: Element cannot be added to the set: it's already added`), b('kernel-exists', 'dlipset.err'));
    t.regex(b('kernel-exists', 'dlipset.out'), /^1\t0\t\d+\.\d{6}\n2\t1\t\d+\.\d{6}\n$/);
    t.regex(b('kernel-exists', `dl-${LAB}-r1.save`), /^create S hash:ip .*\nadd S 10\.0\.0\.1\n$/);
    t.regex(b('kernel-exists', `dl-${LAB}-r2.save`), /^create S hash:ip .*\nadd S 10\.0\.0\.1\n$/);
    t.is(b('kernel-create-exists', 'dlipset.rc').trim(), '1');
    t.regex(b('kernel-create-exists', 'dlipset.err'), /one:3: create S hash:ip family inet hashsize 1024 maxelem 65536: File exists/);
  } finally {
    if (!process.env.DLIPSET_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    else t.log(`kept ${dir}`);
  }
});
