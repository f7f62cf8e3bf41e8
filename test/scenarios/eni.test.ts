// The Terway exclusive-ENI family, end to end on a real kernel (UML by default; DL_TEST_RUNNER=native
// to use the host kernel when it has IPVS and dummy).
import test from 'ava';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/eni.yaml`);

test('the eni catalogue covers node → pod, pod → pod, ClusterIP, ExternalIP Cluster and Local, and the SLB', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (let i = 1; i <= 9; i++) t.true(ids.includes(`eni-${i}`), `eni-${i} missing`);
});

for (const s of topo.scenarios) {
  test.serial(`${s.id}: ${s.title}`, async (t) => {
    await assertScenario(t, s.id);
  });
}
