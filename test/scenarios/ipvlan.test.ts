// The Terway IPVLAN + eBPF family, end to end on a real kernel (UML by default: the host kernel
// here has no ipvlan; DL_TEST_RUNNER=native on a kernel with ipvlan, clsact and bpffs). Every
// scenario's checks must hold — paths, captures, the ClusterIP captured nowhere, the eBPF table
// read back from the kernel, the checksums of the translated packets — and `lab lb list` must
// print the table the article shows.
import test from 'ava';
import { existsSync } from 'node:fs';
import { locateScenario } from '../../lab/catalog.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { lbList } from '../../lab/services/ebpf/lb-list.ts';
import { assertScenario, TEST_RUNNER } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/ipvlan.yaml`);

test('the ipvlan catalogue has the eleven scenarios of the article', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (let i = 1; i <= 11; i++) t.true(ids.includes(`ipvlan-${i}`), `ipvlan-${i} missing`);
});

for (const s of topo.scenarios) {
  test.serial(`${s.id}: ${s.title}`, async (t) => {
    const report = await assertScenario(t, s.id);
    t.false(existsSync(`/sys/fs/bpf/dl-${report.labId}`), 'the lab left eBPF pins behind');
  });
}

test.serial('lab lb list ipvlan-5: the kernel maps hold 192.168.27.242:80 → 10.0.3.38:80 on every node', async (t) => {
  const { topo: tp, scenario } = locateScenario('ipvlan-5');
  const tables = await lbList(tp, scenario, { runner: TEST_RUNNER, timeoutMs: 5 * 60_000 });
  t.deepEqual(tables.map((x) => x.node), ['ecs1', 'ecs2']);
  for (const x of tables) {
    t.log(`${x.node}\n${x.text}`);
    const rows = x.text.replace(/ +$/gm, '').split('\n');
    t.is(rows[0], 'SERVICE ADDRESS     BACKEND ADDRESS (REVNAT_ID) (SLOT)');
    t.true(rows.includes('192.168.27.242:80   0.0.0.0:0 (1) (0) [ClusterIP, non-routable]'));
    t.true(rows.includes('                    10.0.3.38:80/TCP (1) (1)'));
    t.true(rows.includes('203.0.113.83:80     0.0.0.0:0 (2) (0) [ExternalIPs]'), 'in-cluster load balancing lists the ExternalIP');
    t.deepEqual(x.problems, []);
  }
  const old = locateScenario('ipvlan-8');
  const [ecs1] = await lbList(old.topo, old.scenario, { runner: TEST_RUNNER, node: 'ecs1', timeoutMs: 5 * 60_000 });
  t.false(ecs1!.text.includes('203.0.113.83'), 'the old datapath has no ExternalIP in the table');
});
