/**
 * dlpod (lab/runners/native/dlpod.c) over SCTP, which the host kernel here lacks: inside a User-Mode
 * Linux guest (Debian's linux.uml, its sctp module) booted with a small init script written below.
 * One dlpod process serves SCTP from two namespaces and TCP and UDP next to them; its SCTP client
 * gives socat's status and reply (answered, refused), its SCTP bulk mode the lines the agent's bash
 * loop wrote; SIGTERM ends it with status 0 and nothing answers afterwards. The guest writes each
 * result to a file in a host folder (hostfs). Needs linux.uml with its modules, gcc with a static
 * libc, socat: a missing prerequisite FAILS the file.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import { umlBinary, umlKernelVersion } from '../../lab/runners/uml.ts';
import { guestFiles, runTestGuest } from '../helpers/uml-guest.ts';

// The guest's init (PID 1): builds the namespaces, runs dlpod and socat, writes each result.
const INIT = fileURLToPath(new URL('./dlpod-uml-init.sh', import.meta.url));

const HTTP = (who: string) => `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\npod=${who}\n`;

test('dlpod in a UML guest: SCTP from two namespaces in one process, as socat answered', async (t) => {
  const built = ensureNativeTool('dlpod');
  t.truthy(built.path, built.error);
  const uml = umlBinary();
  t.truthy(uml && umlKernelVersion(), 'needs linux.uml and its modules (apt-get install user-mode-linux)');
  const dir = mkdtempSync(join(tmpdir(), 'dlpod-uml-'));
  try {
    writeFileSync(join(dir, 'a'), HTTP('srv1'));
    writeFileSync(join(dir, 'b'), HTTP('srv2'));
    writeFileSync(join(dir, 'u'), 'pod=srv2 udp\n');
    const lab = randomBytes(3).toString('hex');
    const { code } = await runTestGuest({ init: INIT, dir, umid: `dlpod-${lab}`, mem: '256M', vars: { DL_OUT: dir, DL_LAB: lab, DL_DLPOD: built.path! }, timeoutMs: 180_000 });
    t.is(code, 0, 'the guest ran its script to the end');
    const out = (name: string) => (existsSync(join(dir, `${name}.out`)) ? readFileSync(join(dir, `${name}.out`), 'utf8') : `(no ${name}.out)`);
    const rc = (name: string) => (existsSync(join(dir, `${name}.rc`)) ? readFileSync(join(dir, `${name}.rc`), 'utf8').trim() : `(no ${name}.rc)`);
    t.is(out('serve').trim(), 'ready', readFileSync(join(dir, 'serve.err'), 'utf8'));
    // The reply is the file's bytes, from the namespace that holds the address.
    t.deepEqual([rc('sctp1'), out('sctp1')], ['0', HTTP('srv1')]);
    t.deepEqual([rc('sctp2'), out('sctp2')], ['0', HTTP('srv2')]);
    t.deepEqual([rc('tcp1'), out('tcp1')], ['0', HTTP('srv1')]);
    t.deepEqual([rc('udp2'), out('udp2')], ['0', 'pod=srv2 udp\n']);
    // As socat: the same reply; a refused association is status 1 with no reply for both.
    t.deepEqual([rc('socat-sctp1'), out('socat-sctp1')], [rc('sctp1'), out('sctp1')]);
    t.deepEqual([rc('refused'), out('refused')], ['1', '']);
    t.deepEqual([rc('socat-refused'), out('socat-refused')], ['1', '']);
    // Bulk: 20 associations answered, each line as the agent's bash loop wrote it.
    const lines = out('bulk').split('\n').filter(Boolean);
    t.is(rc('bulk'), '0');
    t.is(lines.length, 20);
    const bashLines = out('bash-bulk').split('\n').filter(Boolean);
    t.is(bashLines.length, 3);
    t.deepEqual(lines.slice(0, 3), bashLines);
    t.true(lines.every((l, i) => l.startsWith(`${i + 1}\t0\tHTTP/1.0 200 OK  Content-Type`) && l.endsWith('pod=srv2')), lines[0]);
    // SIGTERM: status 0, and the server is gone.
    t.is(rc('term'), '0');
    t.is(rc('after'), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
