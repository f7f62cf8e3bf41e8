// `lab explain`: the per-hop decisions are quoted from the running kernel.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const cli = path.join(import.meta.dirname, '..', '..', 'lab', 'cli.ts');

test('explain eniip-4 (uml): IPVS re-routes with an output lookup that the iif rule cannot match', (t) => {
  const r = spawnSync(process.execPath, [cli, 'explain', 'eniip-4', '--runner', 'uml'], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } });
  t.is(r.status, 0, r.stderr);
  const out = r.stdout;
  t.regex(out, /Topology\n {2}datapath eniip, service proxy ipvs/);
  t.regex(out, /the article's path: |hop by hop, as the kernel decides it:/);
  t.regex(out, /destination 192\.168\.2\.115 → 10\.0\.3\.58: IPVS virtual server on kube-ipvs0:\n\s+-> 10\.0\.3\.58:80\s+Masq/);
  t.regex(out, /route \(output lookup after IPVS\): `ip route get 10\.0\.3\.58` → 10\.0\.3\.58 via 10\.0\.1\.253 dev eth0/);
  t.regex(out, /not matched \(output lookups have no iif\): `2048:\s+from 10\.0\.1\.91 iif cali\w+ lookup 1003`/);
  t.regex(out, /ecs2:eth1 \[eni\(nginx-b\)\] In 10\.0\.1\.91 → 10\.0\.3\.58 \[node\]\n\s+route \(input lookup\): .* dev cali\w+\s*\n\s+decided by rule `512:\s+from all to 10\.0\.3\.58 lookup main`/);
  t.regex(out, /delivered: 10\.0\.3\.58 is nginx-b's own address/);
  // The lab explain brought up is gone again.
  const labs = JSON.parse(spawnSync(process.execPath, [cli, 'status', '--json'], { encoding: 'utf8' }).stdout) as { scenario: string }[];
  t.false(labs.some((l) => l.scenario === 'eniip-4'), 'explain left its lab up');
});
