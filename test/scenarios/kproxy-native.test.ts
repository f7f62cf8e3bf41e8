// The kproxy family on the host kernel (native runner): it needs only veth, bridge, iptables
// (nat, statistic, conntrack) and BIRD, which this project's machines have. Where the host kernel
// cannot serve, the test fails with the runner's reason — it never skips.
import test from 'ava';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/kproxy.yaml`);

for (const s of topo.scenarios) {
  test.serial(`native ${s.id}: ${s.title}`, async (t) => {
    const report = await assertScenario(t, s.id, 'native');
    t.is(report.runner, 'native');
  });
}
