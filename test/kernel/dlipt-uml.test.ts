/**
 * dlipt (lab/runners/native/dlipt.c, built from source) against iptables-legacy-save, inside a
 * User-Mode Linux guest (its own kernel: nothing here touches the host's tables). Every scenario of
 * the catalogue is compiled (lab/compile.ts compileScenario); each namespace that gets iptables
 * rules becomes a case: its ipset and iptables restore files, in build order, are loaded into a
 * namespace of its own with `iptables-legacy-restore -c`, each rule and each built-in chain's
 * policy carrying counters of its own ("[p:b]", packets and bytes distinct from every other rule's
 * and beyond 2^40, so a swapped or truncated counter shows). One more case holds rule shapes the
 * catalogue does not emit today (goto, negated interfaces and protocol, wildcard and 15-character
 * interfaces, fragments, a non-contiguous mask, a protocol by number, the raw table). Then
 * `iptables-legacy-save -c` dumps every namespace, one dlipt dumps them all, and each dump must
 * equal the other byte for byte once the two date comments' dates are masked; the first differing
 * line fails the test. Refusals: another lab's namespace (or a path with "..") in the list exits 2
 * and writes nothing; a missing namespace is reported in its file and the next one is still
 * written (exit 1); the namespace dlipt starts in is never dumped.
 * Needs linux.uml, gcc, libip4tc-dev and libxtables-dev, iptables and ipset: a missing
 * prerequisite FAILS the file.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { runTestGuest, type TestGuest } from '../helpers/uml-guest.ts';

const INIT = fileURLToPath(new URL('./dlipt-uml-init.sh', import.meta.url));

interface Case { name: string; steps: { tool: 'ipset' | 'iptables'; text: string }[] }

/** Shapes beyond the catalogue's, each a line iptables-legacy-save prints back as written. */
const EDGE = `*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A PREROUTING -i veth+ -p udp -m udp --dport 53 -j CT --notrack
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:user-1 - [0:0]
:user.2 - [0:0]
-A INPUT ! -i lo ! -p tcp -g user-1
-A INPUT -p 250
-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 5/sec -j LOG --log-prefix "dl x "
-A FORWARD -s 10.0.0.0/255.0.255.0 ! -d 192.168.1.1/32 -i abcdefghijklmno -o eth+ -f -j ACCEPT
-A FORWARD ! -o x ! -f -p 47 -j DROP
-A FORWARD -p tcp -m multiport --dports 22,80:90 -m state --state NEW -j user.2
-A user-1 -m comment --comment "no target: counts only"
-A user-1 -j RETURN
-A user.2 -p sctp -m sctp --dport 9 -j REJECT --reject-with icmp-port-unreachable
COMMIT
`;

/** Every namespace with iptables rules in every compiled scenario, with the ipsets its rules name. */
function catalogueCases(lab: string): Case[] {
  const out: Case[] = [];
  for (const topo of loadCatalog()) {
    for (const s of topo.scenarios) {
      const plan = compileScenario(topo, s, lab).plan;
      const objects = [...new Set(plan.steps.filter((x) => x.tool === 'iptables').map((x) => x.object!))];
      for (const o of objects) {
        const steps = plan.steps.filter((x) => x.object === o && (x.tool === 'iptables' || x.tool === 'ipset'));
        out.push({ name: `${s.id}/${o}`, steps: steps.flatMap((x) => x.lines!.map((text) => ({ tool: x.tool as 'ipset' | 'iptables', text }))) });
      }
    }
  }
  return out;
}

/** The modules every compiled scenario asks for, and the edge case's. */
function modules(lab: string): string[] {
  const all = new Set(['ip_tables', 'iptable_filter', 'iptable_nat', 'iptable_mangle', 'iptable_raw', 'xt_CT', 'xt_LOG', 'xt_limit', 'xt_multiport', 'xt_state', 'xt_sctp', 'xt_tcpudp', 'ipt_REJECT']);
  for (const topo of loadCatalog()) for (const s of topo.scenarios) for (const m of compileScenario(topo, s, lab).plan.modules) all.add(m);
  return [...all];
}

/** The restore file with counters: "[p:b]" before every rule, on every built-in chain's policy. */
function withCounters(text: string, next: () => string): string {
  return text.split('\n').map((l) => {
    if (/^-[AI] /.test(l)) return `${next()} ${l}`;
    if (/^:\S+ (ACCEPT|DROP) \[0:0\]$/.test(l)) return l.replace('[0:0]', next());
    return l;
  }).join('\n');
}

function bootGuest(dir: string, lab: string, dlipt: string, dlnsrun: string): Promise<TestGuest> {
  return runTestGuest({ init: INIT, dir, umid: `dlipt-${lab}`, mem: '512M', vars: { DL_DIR: dir, DL_LAB: lab, DL_DLIPT: dlipt, DL_DLNSRUN: dlnsrun }, timeoutMs: 10 * 60_000 });
}

/** The two date comments with their dates masked (iptables-save prints ctime(3) there). */
const DATES = /^(# Generated by iptables-save v\S+ on |# Completed on )\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/gm;
const masked = (s: string) => s.replace(DATES, '$1<date>');

/** The first line where two dumps differ, or undefined. */
function firstDiff(a: string, b: string): string | undefined {
  const [x, y] = [a.split('\n'), b.split('\n')];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  iptables-legacy-save: ${JSON.stringify(x[i])}\n  dlipt:                ${JSON.stringify(y[i])}`;
  }
  return undefined;
}

test('dlipt dumps every namespace of the catalogue as iptables-legacy-save -c does, byte for byte', async (t) => {
  t.timeout(12 * 60_000);
  const built = ensureNativeTool('dlipt');
  t.truthy(built.path, built.error);
  const nsrun = ensureNativeTool('dlnsrun');
  t.truthy(nsrun.path, nsrun.error);
  t.truthy(umlBinary() && umlKernelVersion(), 'needs linux.uml and its modules (apt-get install user-mode-linux)');
  t.true(existsSync('/usr/sbin/iptables-legacy-save') && existsSync('/usr/sbin/ipset'), 'needs iptables and ipset');
  const lab = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'dlipt-uml-'));
  try {
    const cases = [...catalogueCases(lab), { name: 'edge', steps: [{ tool: 'iptables' as const, text: EDGE }] }];
    t.true(cases.length > 50, `only ${cases.length} namespaces with rules in the catalogue`);
    let k = 0;
    const next = () => { k++; return `[${1000 + k}:${(1n << 40n) + BigInt(k * 977)}]`; };
    writeFileSync(join(dir, 'modules'), modules(lab).join('\n') + '\n');
    cases.forEach((c, i) => {
      const d = join(dir, 'cases', `c${i}`);
      mkdirSync(d, { recursive: true });
      const lines = c.steps.map((s, j) => {
        const f = join(d, `${j}.${s.tool}`);
        writeFileSync(f, (s.tool === 'iptables' ? withCounters(s.text, next) : s.text) + '\n');
        return `${s.tool} ${f}`;
      });
      writeFileSync(join(d, 'steps'), lines.join('\n') + '\n');
      writeFileSync(join(d, 'name'), c.name);
    });
    const { code, console: out } = await bootGuest(dir, lab, built.path!, nsrun.path!);
    const file = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : `(no ${name})`);
    t.is(code, 0, `the guest ran its script to the end: ${out}\n${file('guest.err')}`);

    // Every case was loaded as the agent loads it (a failed restore would make the comparison empty).
    let rules = 0;
    const ruleCounters: [bigint, bigint][] = [];
    for (const c of readdirSync(join(dir, 'cases'))) {
      const name = file(`cases/${c}/name`);
      t.is(file(`cases/${c}/build.err`), '', `${name}: restore failed`);
      const legacy = file(`cases/${c}/legacy.txt`);
      const ours = file(`cases/${c}/dlipt.txt`);
      t.true(legacy.includes('\nCOMMIT\n# Completed on '), `${name}: iptables-legacy-save printed no table:\n${legacy}`);
      const diff = firstDiff(masked(legacy), masked(ours));
      t.is(diff, undefined, `${name} (${c}): first difference at ${diff}`);
      t.not(masked(ours), ours, `${name}: the date comments are there`);
      for (const m of legacy.matchAll(/^\[(\d+):(\d+)\] -A /gm)) ruleCounters.push([BigInt(m[1]!), BigInt(m[2]!)]);
      rules = ruleCounters.length;
    }
    t.is(file('dlipt.rc').trim(), '0', file('dlipt.err'));
    t.true(rules > 0 && ruleCounters.every(([p, b]) => p > 1000n && b > 1n << 40n), 'every rule has the counters its restore file gave it');
    t.log(`${cases.length} namespaces, ${rules} rules: iptables-legacy-save ${file('legacy.ms').trim()} ms, dlipt ${file('dlipt.ms').trim()} ms`);

    // Another lab's namespace anywhere in the list: nothing runs, nothing is written.
    t.is(file('refuse-mixed.rc').trim(), '2');
    t.regex(file('refuse-mixed.err'), /dl-ffffff-other is not a namespace of lab/);
    t.false(existsSync(join(dir, 'refuse-mixed-good.txt')) || existsSync(join(dir, 'refuse-mixed-other.txt')));
    t.is(file('refuse-dots.rc').trim(), '2');
    t.false(existsSync(join(dir, 'refuse-dots.txt')));
    // A namespace that is gone: said in its file, exit 1, the next pair still dumped.
    t.is(file('refuse-gone.rc').trim(), '1');
    t.regex(file('refuse-gone.txt'), new RegExp(`dlipt: /run/netns/dl-${lab}-gone: No such file or directory`));
    t.is(masked(file('refuse-gone-next.txt')), masked(file('cases/c0/dlipt.txt')));
    // The namespace dlipt started in, under a lab name: refused.
    t.is(file('refuse-home.rc').trim(), '1');
    t.regex(file('refuse-home.txt'), /is the namespace dlipt started in/);
    t.notRegex(file('refuse-home.txt'), /\*filter|# Generated/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
