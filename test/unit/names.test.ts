import test from 'ava';
import { eniRouteTable, fitIfname, macFor, nsName, vethNameForPod } from '../../lab/names.ts';

test('host veth name: Terway VethNameForPod test vector', (t) => {
  // AliyunContainerService/terway pkg/link/veth_test.go
  t.is(vethNameForPod('client-b6989bf87-2bgtc', 'default'), 'calic95a4947e07');
});

test('host veth name: the cali of the calico article', (t) => {
  // shared/seeds/003: default/nginx-demo-1-7f67f8bdd8-fxptt is wired to cali1087c975dd9
  t.is(vethNameForPod('nginx-demo-1-7f67f8bdd8-fxptt', 'default'), 'cali1087c975dd9');
});

test('host veth names are at most 15 bytes', (t) => {
  t.is(vethNameForPod('x'.repeat(200), 'y'.repeat(60)).length, 15);
});

test('per-ENI route table is 1000 + ifindex', (t) => {
  t.is(eniRouteTable(3), 1003);
});

test('fitIfname keeps short names and hashes long ones to 15 bytes', (t) => {
  t.is(fitIfname('ecs1-eth1'), 'ecs1-eth1');
  const long = fitIfname('a-very-long-node-name-eth1');
  t.is(long.length, 15);
  t.is(long, fitIfname('a-very-long-node-name-eth1'));
  t.not(long, fitIfname('a-very-long-node-name-eth2'));
});

test('MACs are deterministic and well formed', (t) => {
  t.regex(macFor('ecs1/eth1'), /^00:16:3e(:[0-9a-f]{2}){3}$/);
  t.is(macFor('ecs1/eth1'), macFor('ecs1/eth1'));
});

test('namespace names carry the lab id', (t) => {
  t.is(nsName('abc123', 'ecs1'), 'dl-abc123-ecs1');
});
