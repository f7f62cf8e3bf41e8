// The check registry (lab/checks/registry.ts): every expectation field the loader produces is
// judged by exactly one registered kind, and a reference a kind declares is validated at load.
import test from 'ava';
import { CHECK_KINDS, probeDumps } from '../../lab/checks/registry.ts';
import { loadCatalog } from '../../lab/catalog.ts';
import { parseTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { InputError } from '../../lab/errors.ts';
import { readFileSync } from 'node:fs';

test('every expect field of a loaded probe belongs to exactly one check kind', (t) => {
  const probe = loadCatalog()[0]!.scenarios[0]!.probes[0]!;
  for (const field of Object.keys(probe.expect)) {
    const owners = CHECK_KINDS.filter((k) => (k.fields as readonly string[]).includes(field));
    t.is(owners.length, 1, `expect.${field} is judged by ${owners.length} kinds`);
  }
  const declared = CHECK_KINDS.flatMap((k) => k.fields as readonly string[]);
  t.is(new Set(declared).size, declared.length, 'a field is declared by two kinds');
});

test('dumps are asked once per kind and object, whatever number of expectations need them', (t) => {
  for (const topo of loadCatalog()) {
    for (const s of topo.scenarios) {
      for (const p of s.probes) {
        const d = probeDumps(p).map((x) => `${x.kind}:${x.object}`);
        t.is(new Set(d).size, d.length, `${s.id} ${p.name}: ${d.join(', ')}`);
      }
    }
  }
});

test('a reference a check kind declares is checked when the file loads (exit 2, located)', (t) => {
  const file = `${TOPOLOGY_DIR}/kproxy.yaml`;
  const text = readFileSync(file, 'utf8');
  const m = /(\n\s+iptables:\n\s+- node: )(\S+)/.exec(text);
  t.truthy(m, 'kproxy.yaml has an iptables expectation');
  const bad = text.replace(m![0], `${m![1]}no-such-node`);
  const err = t.throws(() => parseTopology(bad, file), { instanceOf: InputError }) as InputError;
  t.true(err.issues.some((i) => i.message === 'unknown node "no-such-node"' && /\.expect\.iptables\[0\]\.node$/.test(i.field) && i.line > 0), JSON.stringify(err.issues));
});
