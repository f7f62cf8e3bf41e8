// The Terway ENIIP family, end to end on a real kernel (UML by default; DL_TEST_RUNNER=native to
// use the host kernel when it has IPVS and dummy).
import test from 'ava';
import { loadTopology } from '../../lab/topology/load.ts';
import { TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/eniip.yaml`);

test('the eniip catalogue has the seven scenarios of the article', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (let i = 1; i <= 7; i++) t.true(ids.includes(`eniip-${i}`), `eniip-${i} missing`);
});

for (const s of topo.scenarios) {
  test.serial(`${s.id}: ${s.title}`, async (t) => {
    await assertScenario(t, s.id);
  });
}
