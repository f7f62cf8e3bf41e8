/**
 * dlbpf (lab/runners/native/dlbpf.c) against bpftool and tc, inside a User-Mode Linux guest
 * (dlbpf-uml-init.sh): a compiled ipvlan scenario's job is built by the agent twice in the same
 * lab's names — one bpftool / nsenter tc process per step (DL_DLBPF=off), then the whole eBPF
 * set-up from one dlbpf — and must leave the same pins under the lab's bpffs folder (paths,
 * types, modes), the same contents in every pinned map, the same tc filters on every pod's eth0
 * (bpf, direct-action, protocol, prio, handle, the filter's name) with the pod's own pinned
 * program attached. The agent's bpf dumps of one probe are the same from dlbpf as from bpftool
 * (the JSON's raw key/value bytes, in the same order; bpftool's "formatted" aside), and so is a
 * direct `dlbpf dump`. Refusals: a pin outside the lab's folder, a malformed line, a `..`, a
 * namespace of another lab, a step dlbpf does not run: exit 2 with file:line, nothing made.
 * Needs linux.uml with its modules, gcc, libbpf-dev and bpftool: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateScenario } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { renderJob } from '../../lab/runners/job.ts';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { guestFiles, runTestGuest } from '../helpers/uml-guest.ts';

const INIT = fileURLToPath(new URL('./dlbpf-uml-init.sh', import.meta.url));
const AGENT = fileURLToPath(new URL('../../lab/runners/agent.sh', import.meta.url));

/** A `bpftool -j` map dump's raw entries as "key=value" hex strings (the BTF "formatted" left out). */
function entries(json: string): string[] {
  const data = JSON.parse(json) as { key: string[]; value: string[] }[];
  return data.map((e) => `${e.key.join('')}=${e.value.join('')}`);
}

/** The agent's bpf dump file: "# MAP" then the map's entries, in the order they were printed. */
function bpfDump(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of text.split(/^# /m).slice(1)) {
    const [name, ...rest] = part.split('\n');
    out[name!] = entries(rest.join('\n'));
  }
  return out;
}

/**
 * `tc filter show` with the kernel's program ids and tags replaced (they differ between the two
 * builds), and the filter's name annotation: tc names a filter it attached from a pin
 * "PROG:[*fsobj]" (iproute2 lib/bpf_legacy.c), libbpf's bpf_tc_attach "PROG:[ID]"
 * (tools/lib/bpf/netlink.c tc_add_fd_and_name). Nothing in lab/ reads it: no scenario asks for a
 * `tc` dump, and lab/explain/tc.ts reads the plan's batches, not the kernel. Both forms are
 * checked below, each for its own build.
 */
const tcShape = (s: string) => s.replace(/\bid \d+/g, 'id N').replace(/(\w+):\[(?:\*fsobj|\d+)\]/g, '$1:[NAME]').replace(/\btag [0-9a-f]+/g, 'tag T');

async function runGuest(scenarioId: string) {
  const built = ensureNativeTool('dlbpf');
  const uml = umlBinary();
  if (!built.path) throw new Error(built.error);
  if (!uml || !umlKernelVersion()) throw new Error('needs linux.uml and its modules (apt-get install user-mode-linux)');
  const dir = mkdtempSync(join(tmpdir(), 'dlbpf-uml-'));
  const lab = randomBytes(3).toString('hex');
  const { topo, scenario } = locateScenario(scenarioId);
  const compiled = compileScenario(topo, scenario, lab);
  const files = renderJob(compiled);
  for (const mode of ['off', 'on']) {
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(join(dir, mode, rel, '..'), { recursive: true });
      writeFileSync(join(dir, mode, rel), content);
    }
    for (const d of ['capture', 'dump']) mkdirSync(join(dir, mode, 'out', d), { recursive: true });
    writeFileSync(join(dir, mode, 'journal'), `lab\t${lab}\n`);
  }
  // The refusal cases' files (a job folder of their own).
  const B = `/sys/fs/bpf/dl-${lab}`;
  mkdirSync(join(dir, 'bad'));
  writeFileSync(join(dir, 'bad', 'outside.batch'), `map pin pinned ${B}/n1/maps/x ${B}/n1/maps/y\nmap pin pinned ${B}/n1/maps/x /sys/fs/bpf/other/y\n`);
  writeFileSync(join(dir, 'bad', 'malformed.batch'), `map update pinned ${B}/n1/maps/x key hex 01 value hex 02\nmap update pinned ${B}/n1/maps/x key 01 value hex 02\n`);
  writeFileSync(join(dir, 'bad', 'outside.tc'), `qdisc replace dev eth0 clsact\nfilter replace dev eth0 egress prio 1 handle 1 bpf da pinned /sys/fs/bpf/x/from_container\n`);
  writeFileSync(join(dir, 'bad', 'ok.tc'), 'qdisc replace dev eth0 clsact\n');
  const pods = compiled.plan.namespaces.filter((n) => topo.cluster.pods.some((p) => p.name === n.object)).map((n) => n.object);
  const nodes = [...new Set(topo.cluster.pods.map((p) => p.node))];
  const { code } = await runTestGuest({ init: INIT, dir, umid: `dlbpf-${lab}`, mem: '512M', vars: { DL_OUT: dir, DL_LAB: lab, DL_AGENT: AGENT, DL_DLBPF_BIN: built.path!, DL_MODULES: compiled.plan.modules.join(','), DL_PODS: pods.join(','), DL_NODES: nodes.join(',') }, timeoutMs: 240_000 });
  const file = guestFiles(dir);
  const list = (name: string) => (existsSync(join(dir, name)) ? readdirSync(join(dir, name)).sort() : []);
  return { dir, lab, code, file, list, pods, nodes, cleanup: () => { if (!process.env['DLBPF_KEEP']) rmSync(dir, { recursive: true, force: true }); } };
}

for (const id of ['ipvlan-1', 'ipvlan-8']) {
  test(`dlbpf in a UML guest (${id}): the same pins, maps and tc filters as bpftool and tc, the same dumps`, async (t) => {
    const g = await runGuest(id);
    try {
      t.is(g.code, 0, 'the guest ran its script to the end');
      for (const m of ['off', 'on']) {
        t.is(g.file(`${m}.build.rc`).trim(), '0', g.file(`${m}.build.log`) + g.file(`${m}/out/build-error`));
        t.is(g.file(`${m}.teardown.rc`).trim(), '0', g.file(`${m}.teardown.log`));
      }
      // The dlbpf build ran the set-up as one process: its steps' ends come from dlbpf's status
      // lines (nsrun.status); the bpftool build ran them one by one (no such file from dlbpf).
      const steps = g.file('on/out/events.tsv').split('\n').filter((l) => l.includes('\tstep-end\t')).map((l) => l.split('\t').slice(2, 4).join(' '));
      t.true(steps.some((s) => / host$/.test(s)) && steps.some((s) => / nsenter$/.test(s)), steps.join('\n'));
      const ebpfSteps = g.file('on/manifest.tsv').split('\n').filter((l) => /^(host\t(mkdir|bpftool)|nsenter\t)/.test(l)).length;
      t.true(ebpfSteps >= 2 + 2 * g.pods.length, `${ebpfSteps} eBPF steps`);
      const status = g.file('on/out/nsrun.status').trim().split('\n').map((l) => l.split('\t'));
      t.deepEqual(status.map((l) => l.slice(0, 2).join(' ')), Array.from({ length: ebpfSteps }, (_, i) => `${i + 1} 0`));

      // Pins: the same paths, types and modes (programs and maps of each pod, the nodes' aliases).
      const pins = g.file('off.pins');
      t.true(pins.includes('nginx/from_container f') && pins.includes('nginx/maps/lb4_ct f'), pins);
      for (const n of g.nodes) t.true(pins.includes(`${n}/maps/lb4_services_v2 f`), pins);
      t.is(g.file('on.pins'), pins);

      // Every pinned map holds the same entries (compared sorted: each build's hash maps have their own seed).
      const maps = g.list('off.maps');
      t.deepEqual(g.list('on.maps'), maps);
      t.true(maps.length >= 5 * g.pods.length + 3 * g.nodes.length, maps.join(' '));
      let filled = 0;
      for (const m of maps) {
        const [a, b] = [entries(g.file(`off.maps/${m}`)).sort(), entries(g.file(`on.maps/${m}`)).sort()];
        t.deepEqual(b, a, m);
        if (a.length) filled++;
      }
      t.true(filled >= g.nodes.length * 3, `maps with entries: ${filled}`);

      // tc: the same filters, each the pod's own pinned program.
      for (const pod of g.pods) {
        for (const [d, prog] of [['egress', 'from_container'], ['ingress', 'to_container']] as const) {
          const [a, b] = [g.file(`off.tc/${pod}.${d}`), g.file(`on.tc/${pod}.${d}`)];
          t.regex(a, /pref 1 bpf chain 0 handle 0x1 .*direct-action/, `${pod} ${d}: ${a}`);
          t.is(tcShape(b), tcShape(a), `${pod} ${d}`);
          for (const [m, text] of [['off', a], ['on', b]] as const) {
            const pinned = JSON.parse(g.file(`${m}.prog/${pod}.${prog}.json`)) as { id: number; name: string };
            t.is(pinned.name, prog);
            t.regex(text, new RegExp(`\\bid ${pinned.id}\\b`), `${m} ${pod} ${d}: the pinned program is attached`);
            t.true(text.includes(` ${prog}:[${m === 'off' ? '*fsobj' : pinned.id}] direct-action `), `${m} ${pod} ${d}: ${text}`);
          }
        }
      }
      // Nothing left under the lab's folder after either teardown.
      t.regex(g.file('off.left'), /No such file or directory|^$/);
      t.regex(g.file('on.left'), /No such file or directory|^$/);

      // The agent's bpf dumps of a probe (bpftool, then dlbpf, of the same maps), and dlbpf dump directly.
      const dumps = g.list('dump-off').filter((f) => f.includes('.bpf.'));
      t.true(dumps.length >= 1, g.list('dump-off').join(' '));
      t.deepEqual(g.list('dump-on').filter((f) => f.includes('.bpf.')), dumps);
      for (const f of dumps) {
        const [a, b] = [bpfDump(g.file(`dump-off/${f}`)), bpfDump(g.file(`dump-on/${f}`))];
        t.deepEqual(Object.keys(a), ['lb4_services_v2', 'lb4_backends', 'lb4_reverse_nat']);
        t.deepEqual(b, a, f);
        // bpftool's output carries its BTF "formatted"; dlbpf's does not: the dumps came from each.
        t.true(g.file(`dump-off/${f}`).includes('"formatted"'), f);
        t.false(g.file(`dump-on/${f}`).includes('"formatted"'), f);
      }
      for (const n of g.nodes) {
        const [a, b] = [bpfDump(g.file(`direct-off.${n}.txt`)), bpfDump(g.file(`direct-on.${n}.txt`))];
        t.true(a['lb4_services_v2']!.length > 0);
        t.deepEqual(b, a, n);
      }

      // Refusals: exit 2 with file:line, nothing made under the lab's folder.
      const B = `/sys/fs/bpf/dl-${g.lab}`;
      const refused = (name: string, re: RegExp) => {
        t.is(g.file(`bad-${name}.rc`).trim(), '2', `${name}: ${g.file(`bad-${name}.err`)}`);
        t.regex(g.file(`bad-${name}.err`), re, name);
        t.regex(g.file(`bad-${name}.left`), /No such file or directory/, `${name}: nothing made`);
        t.is(g.file(`bad-${name}.out`), '', name);
      };
      refused('outside-pin', new RegExp(`bad/outside\\.batch:2: map pin pinned ${B}/n1/maps/x /sys/fs/bpf/other/y: a pin outside the lab's bpffs folder ${B}\\n`));
      refused('malformed', /bad\/malformed\.batch:2: map update .* key 01 value hex 02: key: want "hex" and bytes\n/);
      refused('dotdot', /manifest\.tsv:1: mkdir .*\.\.\/dl-ffffff is outside the lab's bpffs folder/);
      refused('tc-outside', /bad\/outside\.tc:2: filter replace .*: pinned \/sys\/fs\/bpf\/x\/from_container is outside the lab's bpffs folder/);
      refused('not-a-step', /manifest\.tsv:1: not a step dlbpf runs/);
      refused('foreign-ns', /manifest\.tsv:1: dl-ffffff-pod is not a namespace of lab/);
      t.is(g.file('bad-dump.rc').trim(), '2');
      t.regex(g.file('bad-dump.err'), /\/sys\/fs\/bpf\/other is outside the lab's bpffs folder/);
      t.false(existsSync(join(g.dir, 'bad-dump.txt')));
    } finally {
      g.cleanup();
    }
  });
}
