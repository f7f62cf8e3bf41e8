// The kproxy family on the host kernel (native runner): it needs only veth, bridge, iptables
// (nat, statistic, conntrack) and BIRD, which this project's machines have. Where the host kernel
// cannot serve, the test fails with the runner's reason — it never skips.
import test from 'ava';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/kproxy.yaml`);

// IPVS-mode scenarios need ip_vs and dummy, which this claim does not make: they run under UML in
// kproxy.test.ts, and the native runner's refusal to build them without those is tested below.
const ipvsMode = (s: (typeof topo.scenarios)[number]) => (s.serviceProxy?.kind ?? topo.cluster.serviceProxy.kind) === 'ipvs';

for (const s of topo.scenarios.filter((x) => !ipvsMode(x))) {
  test.serial(`native ${s.id}: ${s.title}`, async (t) => {
    const report = await assertScenario(t, s.id, 'native');
    t.is(report.runner, 'native');
  });
}

// On a host kernel without IPVS the native runner refuses before building anything (exit 3, naming
// the kernel options and the runner that has them); on one with IPVS the scenario passes.
for (const s of topo.scenarios.filter(ipvsMode)) {
  test.serial(`native ${s.id} (IPVS mode): passes, or is refused naming CONFIG_IP_VS and --runner uml`, async (t) => {
    try {
      const report = await assertScenario(t, s.id, 'native');
      t.is(report.runner, 'native');
    } catch (e) {
      const err = e as { exitCode?: number; message?: string };
      t.is(err.exitCode, 3, String(err.message));
      t.regex(String(err.message), /native: the host kernel \(\S+\) lacks CONFIG_IP_VS .*fix: use --runner uml/);
    }
  });
}
