// The Terway ENI-Trunking family, end to end under UML (the host kernel lacks 8021q; set
// DL_TEST_RUNNER=native on a kernel with 8021q, IPVS and dummy).
import test from 'ava';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/trunk.yaml`);

test('the trunk catalogue has trunk-1 … trunk-10 and both variants of trunk-8', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (let i = 1; i <= 10; i++) t.true(ids.includes(`trunk-${i}`), `trunk-${i} missing`);
  t.true(ids.includes('trunk-8-deny'));
  const deny = topo.scenarios.find((s) => s.id === 'trunk-8-deny')!;
  t.true(deny.probes.every((p) => p.expect.reachable === false && p.expect.droppedBy !== undefined));
  t.true(topo.scenarios.some((s) => s.datapath.trunkMode === 'vlan'), 'a scenario uses trunkMode vlan');
});

for (const s of topo.scenarios) {
  test.serial(`${s.id}: ${s.title}`, async (t) => {
    await assertScenario(t, s.id);
  });
}
