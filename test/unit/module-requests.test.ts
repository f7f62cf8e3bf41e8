// The module-request log of a UML guest (lab/runners/module-requests.ts): what the hook in
// native/dlinit.c writes is read back, and only requests the plan's list did not cover count.
import test from 'ava';
import { missingModules, parseModuleRequests } from '../../lab/runners/module-requests.ts';

test('requests are read in order; those the hook answered at once are marked; torn lines are skipped', (t) => {
  const text = '1796003141.385892\tipt_tcp\n1796003142.227851\tbr_netfilter\tloaded\n1796003142.3\n\n1796003143.1\tcrypto-hmac(md5)\tnomodule\n1796003143.2\tipt_tcp\n';
  t.deepEqual(parseModuleRequests(text), [
    { name: 'ipt_tcp' },
    { name: 'br_netfilter', answered: 'loaded' },
    { name: 'crypto-hmac(md5)', answered: 'nomodule' },
    { name: 'ipt_tcp' },
  ]);
});

test('missing modules: the names the kernel had to have loaded, once each', (t) => {
  t.deepEqual(missingModules(parseModuleRequests('1\tipt_tcp\n2\tbr_netfilter\tloaded\n3\tipt_DNAT\n4\tipt_tcp\n')), ['ipt_tcp', 'ipt_DNAT']);
  t.deepEqual(missingModules(parseModuleRequests('1\tbr_netfilter\tloaded\n2\tcrypto-hmac(md5)\tnomodule\n')), []);
  t.deepEqual(missingModules([]), []);
});
