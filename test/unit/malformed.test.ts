// Hostile input: every file of the malformed corpus gives exit 2 with file:line and builds nothing;
// a property-based fuzz of the loader never crashes, hangs or accepts garbage silently.
import test from 'ava';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../lab/errors.ts';
import { parseTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';

const root = path.join(import.meta.dirname, '..', '..');
const corpus = path.join(root, 'test', 'fixtures', 'bad');
const cli = path.join(root, 'lab', 'cli.ts');

/** What each file of the corpus must be refused for (the message after file:line:col: field:). */
const EXPECT: Record<string, RegExp> = {
  'bad-cidr.yaml': /cidr: is not valid \(got "10\.0\.1\.0\/33"\)/,
  'duplicate-key.yaml': /\(yaml\): Map keys must be unique/,
  'huge-count.yaml': /cluster\.pods: must NOT have more than 10000 items/,
  'long-ifname.yaml': /enis\[1\]\.name: must NOT have more than 15 characters/,
  'not-yaml.yaml': /\(yaml\): Flow sequence/,
  'path-separator.yaml': /pods\[0\]\.name: is not valid \(got "\.\.\/\.\.\/etc\/passwd"\)/,
  'semantic.yaml': /overlaps vswitch vsw-a/,
  'shell-name.yaml': /nodes\[0\]\.name: is not valid \(got "ecs1;rm -rf \/"\)/,
  'unknown-field.yaml': /unknown field "colour"/,
  // Hostile shapes (lab/topology/read.ts).
  'deep-nesting.yaml': /\(yaml\): nested too deeply: at most 64 levels/,
  'deep-block.yaml': /\(yaml\): nested too deeply: at most 64 levels/,
  'alias-bomb.yaml': /\(yaml\): Excessive alias count/,
  'alias-duplicate-key.yaml': /\(yaml\): a key may not be an alias/,
  'control-characters.yaml': /\(yaml\): text with a control character \("\\u001b"\)/,
  'title-newline.yaml': /\(yaml\): title must be one line/,
  'merge-key.yaml': /\(yaml\): merge keys \(<<\) are not supported/,
  // What Kubernetes or the cloud would refuse (lab/topology/addresses.ts).
  'cidr-host-bits.yaml': /vswitches\[0\]\.cidr: 10\.0\.1\.5\/24 has host bits set: the network is 10\.0\.1\.0\/24/,
  'eni-named-lo.yaml': /enis\[1\]\.name: "lo" is the loopback interface/,
  'eni-named-all.yaml': /enis\[1\]\.name: "all" is reserved by the kernel/,
  'eni-named-default.yaml': /enis\[1\]\.name: "default" is reserved by the kernel/,
  'eni-vlan-like.yaml': /enis\[1\]\.name: "eth1\.5" reads as a VLAN sub-interface/,
  'gateway-broadcast.yaml': /vswitches\[0\]\.gateway: gateway 10\.0\.1\.255 is the broadcast address of 10\.0\.1\.0\/24/,
  'sg-port-range.yaml': /rules\[0\]\.ports: port 70000 is outside 1-65535/,
  'clusterip-loopback.yaml': /services\[0\]\.clusterIP: 127\.0\.0\.1 is a loopback address/,
  'clusterip-multicast.yaml': /services\[0\]\.clusterIP: 224\.0\.0\.5 is a multicast address/,
  'clusterip-unspecified.yaml': /services\[0\]\.clusterIP: 0\.0\.0\.0 is the unspecified address/,
  'clusterip-is-node.yaml': /services\[0\]\.clusterIP: duplicate IP 10\.0\.1\.82: already used by node ecs1/,
  'clusterip-is-slb.yaml': /services\[0\]\.clusterIP: 203\.0\.113\.80 is already SLB slb's address/,
  'externalip-broadcast.yaml': /externalIPs\[0\]: 255\.255\.255\.255 is the broadcast address/,
  'externalip-loopback.yaml': /externalIPs\[0\]: 127\.0\.0\.2 is a loopback address/,
  'externalip-is-pod.yaml': /externalIPs\[0\]: 10\.0\.1\.91 is pod nginx's address/,
  'nodeport-twice.yaml': /services\[1\]\.ports\[0\]\.nodePort: NodePort 30080 is already service web's/,
  'pod-network-address.yaml': /pods\[0\]\.ip: 10\.0\.1\.0 is the network address of 10\.0\.1\.0\/24/,
  'pod-broadcast-address.yaml': /pods\[0\]\.ip: 10\.0\.1\.255 is the broadcast address of 10\.0\.1\.0\/24/,
  'podcidr-everything.yaml': /nodes\[0\]\.podCIDR: \/0 is too wide/,
};

const neverUsed = path.join(root, '.lab', 'malformed-never-used');
const scenarioRun = (file: string) => spawnSync(process.execPath, [cli, 'scenario', 'x-1', '--file', file, '--runner', 'native'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DL_STATE_DIR: neverUsed } });
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

for (const f of readdirSync(corpus).filter((x) => x.endsWith('.yaml'))) {
  test(`malformed ${f}: exit 2, located message, nothing built`, (t) => {
    const file = path.join(corpus, f);
    // `scenario` would build: it must stop at the loader, before any runner is chosen.
    const r = scenarioRun(file);
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`^lab: ${escape(file)}:[1-9]\\d*:\\d+: \\S+: `));
    t.truthy(EXPECT[f], `${f} has no expected message in EXPECT`);
    if (EXPECT[f]) t.regex(r.stderr, EXPECT[f]!);
    t.notRegex(r.stderr, /\n\s+at /, 'a stack trace');
    t.false(existsSync(neverUsed), 'a lab folder was created');
  });
}

// Files that are not files: each refused at once (no hang, no unbounded read), exit 2, nothing built.
test('a FIFO, /dev/zero, a directory and a file over 1 MiB are refused before they are read', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-malformed-'));
  try {
    const fifo = path.join(dir, 'topology.yaml');
    t.is(spawnSync('mkfifo', [fifo]).status, 0);
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `apiVersion: datapath-lab/v1\nfamily: bad\ntitle: big\n# ${'x'.repeat(1024 * 1024)}\n`);
    for (const [file, why] of [[fifo, /not a regular file \(a FIFO\)/], ['/dev/zero', /not a regular file \(a character device\)/], [dir, /not a regular file \(a directory\)/], [big, /bytes: a topology file may have at most 1048576/]] as const) {
      const t0 = Date.now();
      const r = scenarioRun(file);
      t.is(r.status, 2, `${file}: ${r.stderr}`);
      t.regex(r.stderr, new RegExp(`^lab: ${escape(file)}:0:0: \\(file\\): `));
      t.regex(r.stderr, why);
      t.true(Date.now() - t0 < 30_000, `${file} took ${Date.now() - t0} ms`);
      t.false(existsSync(neverUsed), 'a lab folder was created');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const valid = readFileSync(path.join(TOPOLOGY_DIR, 'eniip.yaml'), 'utf8');

test('fuzz: random line edits of a valid topology either load or fail with located InputErrors', (t) => {
  const lines = valid.split('\n');
  const edit = fc.record({
    line: fc.nat({ max: lines.length - 1 }),
    kind: fc.constantFrom('delete', 'duplicate', 'replace', 'truncate'),
    text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('  - { name: "$(reboot)" }', 'ip: 999.1.1.1', 'name: a/b', '{', ']', '&anchor', '*alias', 'vlan: 5000', 'port: 0', '\t')),
  });
  fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
    const l = [...lines];
    for (const e of edits) {
      if (e.kind === 'delete') l.splice(e.line, 1);
      else if (e.kind === 'duplicate') l.splice(e.line, 0, l[e.line] ?? '');
      else if (e.kind === 'replace') l[e.line] = e.text;
      else l[e.line] = (l[e.line] ?? '').slice(0, Math.floor((l[e.line] ?? '').length / 2));
    }
    try {
      parseTopology(l.join('\n'), 'fuzz.yaml');
      return true;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return err.issues.length > 0 && err.issues.every((i) => i.file === 'fuzz.yaml' && i.line >= 0 && i.field.length > 0 && i.message.length > 0);
    }
  }), { numRuns: 300 });
  t.pass();
});

test('fuzz: arbitrary text never crashes the loader', (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
    try {
      parseTopology(text, 'x.yaml');
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
    }
  }), { numRuns: 300 });
  t.pass();
});
