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
  t.regex(out, /request, hop by hop \(from the captures\):/);
  t.regex(out, /IPVS in ecs1: destination 192\.168\.2\.115 → 10\.0\.3\.58\n\s+by IPVS TCP\s+192\.168\.2\.115:80 rr \| -> 10\.0\.3\.58:80\s+Masq/);
  t.regex(out, /route \(output lookup after IPVS\): `ip route get 10\.0\.3\.58` → 10\.0\.3\.58 via 10\.0\.1\.253 dev eth0/);
  t.regex(out, /not matched \(output lookups have no iif\): `2048:\s+from 10\.0\.1\.91 iif cali\w+ lookup 1003`/);
  t.regex(out, /ecs2:cali\w+ \[cali\(nginx-b\)\] Out 10\.0\.1\.91 → 10\.0\.3\.58 \[node\]\n\s+forwarded by ecs2's IP stack.*\n\s+route \(input lookup\): .* dev cali\w+\s*\n\s+decided by rule `512:\s+from all to 10\.0\.3\.58 lookup main`/);
  t.regex(out, /verdict: delivered at nginx-b:eth0: answered by nginx-b/);
  // The reply comes back by centos's own ENI (eth1), not by eth0: drawn as its own path.
  t.regex(out, /reply, hop by hop — it takes another way than the request:[^]*ecs1:eth1 \[eni\(nginx-a\), eni\(centos\)\] In 10\.0\.3\.58 → 10\.0\.1\.91/);
  t.regex(out, /IPVS in ecs1: source 10\.0\.3\.58 → 192\.168\.2\.115\n\s+by the IPVS connection entry of this connection reverses/);
  // The lab explain brought up is gone again.
  const labs = JSON.parse(spawnSync(process.execPath, [cli, 'status', '--json'], { encoding: 'utf8' }).stdout) as { scenario: string }[];
  t.false(labs.some((l) => l.scenario === 'eniip-4'), 'explain left its lab up');
});

test('explain trunk-8-deny (uml): dropped at the vSwitch by the security group\'s default deny, never "delivered"', (t) => {
  const r = spawnSync(process.execPath, [cli, 'explain', 'trunk-8-deny', '--runner', 'uml'], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } });
  t.is(r.status, 0, r.stderr);
  t.notRegex(r.stdout, /delivered/);
  t.regex(r.stdout, /verdict: request dropped at vsw-\w+:\S+ by DROP rule "security group sg-web-closed: default deny ingress" in vsw-\w+ at port \S+ \(.*member ENI of nginx.*\) \(counter \+\d+\)/);
  t.regex(r.stdout, /MASQUERADE in ecs1: source 10\.0\.4\.27 → 10\.0\.4\.20\n\s+by nat -A KUBE-POSTROUTING .* -j MASQUERADE --random-fully \(\+1 packet in this probe\)/);
});
