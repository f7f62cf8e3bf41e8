// The docker runner: testcontainers starts a container from the lab's image (built without a
// registry by scripts/build-docker-image.sh) and the same agent runs inside it. The container
// has its own network namespace (network mode none), explicit capabilities (NET_ADMIN,
// SYS_ADMIN, NET_RAW — not --privileged) and no seccomp filter; the lab's namespaces live in
// its mount and network namespaces (/run/netns inside), so removing the container removes the
// lab whatever happened. The job directory is bind-mounted at its host path, the agent and its
// helpers read-only.
//
// A container shares the host's kernel: the runner is available only when that kernel has every
// feature the plan needs, the image has the tools, and a docker engine answers.
//
// Results come back as with the other runners (fail closed): the exec's exit status, a JSON
// summary the in-container wrapper writes (out/docker-summary.json), which must agree, and the
// evidence under the job's out/.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StartedTestContainer } from 'testcontainers';
import type { Job } from './job.ts';
import { AGENT, AGENT_PARTS, featureSource, hostFeatures } from './native.ts';
import { probeTable } from '../features.ts';
import { ensureNativeTools } from './native-tools.ts';
import type { AgentPhase, Availability, Runner, RunOutcome } from './types.ts';
import { readEvents, span } from './timings.ts';
import { TOOL_PACKAGES, missingTools, toolsFor } from './tools.ts';
import { appendJournal } from '../state/journal.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const INIT = path.join(here, 'docker-init.sh');
const PROBE = path.join(here, 'probe-features.sh');
export const IMAGE_PACKAGES_FILE = path.join(here, 'docker-image.packages');
/** Where the agent and its helpers appear inside the container (read-only). */
const IN = '/opt/datapath-lab';
/** What the agent needs beyond docker's defaults; nothing else (--privileged is not needed). */
export const CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'];
const ENGINE_FIX = 'apt-get install docker.io and start the engine: dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false & (or run under bash scripts/ci-docker.sh COMMAND)';
const BUILD_FIX = 'bash scripts/build-docker-image.sh (root; apt-get install debootstrap)';

/** The image's Debian packages: names only, comments dropped, sorted and unique. */
export function imagePackages(): string[] {
  const names = readFileSync(IMAGE_PACKAGES_FILE, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  return [...new Set(names)].sort();
}

/** datapath-lab/agent:<hash of the package list>: the same tag scripts/build-docker-image.sh gives. */
export function imageTag(): string {
  const hash = createHash('sha256').update(imagePackages().map((p) => `${p}\n`).join('')).digest('hex').slice(0, 12);
  return `datapath-lab/agent:${hash}`;
}

type Testcontainers = typeof import('testcontainers');
let tcModule: Testcontainers | undefined;
/** testcontainers, loaded on first use (it is heavy, and only this runner needs it). */
async function testcontainers(): Promise<Testcontainers> {
  // The reaper (ryuk) image would be pulled from a registry: there is none. This runner removes
  // its containers itself, and they remove themselves when their bounded `sleep` ends.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  // The lab publishes no ports. Without this, testcontainers running inside a container asks
  // the engine for the `bridge` network's gateway, which an engine started with --bridge=none
  // does not have, and gives up on the engine altogether.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
  tcModule ??= await import('testcontainers');
  return tcModule;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The engine the user means: $DOCKER_HOST, else the default socket. */
function engineEndpoint(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

/**
 * Asks a unix-socket engine for /_ping. testcontainers, when $DOCKER_HOST does not answer, quietly
 * falls back to /var/run/docker.sock: the runner honours the endpoint the user named instead.
 * Other schemes (tcp, ssh) are left to testcontainers.
 */
function pingEngine(endpoint: string): Promise<void> {
  if (!endpoint.startsWith('unix://')) return Promise.resolve();
  const socketPath = endpoint.slice('unix://'.length);
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 5000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`/_ping answered HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ENOENT' ? `${socketPath} does not exist` : e.message)));
  });
}

/** Starts a container of the image with the lab's mounts, capabilities and network mode. */
async function startContainer(tc: Testcontainers, name: string, mounts: { source: string; target: string; mode: 'ro' | 'rw' }[], lifetimeS: number): Promise<StartedTestContainer> {
  // Docker's own AutoRemove and init: a container orphaned by a killed lab process removes itself
  // when PID 1's bounded sleep ends; tini as PID 1 reaps the agent's daemons and obeys SIGTERM.
  class LabContainer extends tc.GenericContainer {
    constructor(image: string) {
      super(image);
      this.hostConfig.AutoRemove = true;
      this.hostConfig.Init = true;
    }
  }
  return new LabContainer(imageTag())
    .withName(name)
    .withLabels({ 'datapath-lab': 'runner' })
    .withNetworkMode('none')
    .withAddedCapabilities(...CAPABILITIES)
    .withSecurityOpt('seccomp=unconfined')
    .withBindMounts([
      { source: AGENT, target: `${IN}/agent.sh`, mode: 'ro' },
      { source: AGENT_PARTS, target: `${IN}/agent`, mode: 'ro' }, // the phases agent.sh sources
      { source: INIT, target: `${IN}/docker-init.sh`, mode: 'ro' },
      { source: PROBE, target: `${IN}/probe-features.sh`, mode: 'ro' },
      ...mounts,
    ])
    .withCommand(['sleep', String(lifetimeS)])
    .withAutoRemove(false) // the engine removes it (AutoRemove above); a second remove would race
    .withStartupTimeout(60_000)
    .start();
}

async function stopQuietly(c: StartedTestContainer | undefined): Promise<void> {
  if (!c) return;
  try {
    await c.stop({ timeout: 0, remove: false });
  } catch { /* already gone */ }
}

let containerFeatures: Map<string, boolean> | undefined;
/** Kernel features as a container sees them: probe-features.sh in a throwaway container. */
async function containerProbe(tc: Testcontainers): Promise<Map<string, boolean>> {
  if (containerFeatures) return containerFeatures;
  let c: StartedTestContainer | undefined;
  // The probe table (lab/features.ts) goes in read-only next to probe-features.sh.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-features-'));
  const table = path.join(dir, 'features.tsv');
  writeFileSync(table, probeTable());
  try {
    c = await startContainer(tc, `dl-probe-${process.pid}-${Date.now().toString(36)}`, [{ source: table, target: `${IN}/features.tsv`, mode: 'ro' }], 120);
    const r = await c.exec(['bash', `${IN}/docker-init.sh`, '-', 'probe']);
    if (r.exitCode !== 0) throw new Error(`feature probe in the container failed (${r.exitCode}): ${r.output.trim()}`);
    containerFeatures = new Map(r.stdout.trim().split('\n').map((l) => {
      const [f, s] = l.split(' ');
      return [f!, s === 'ok'] as [string, boolean];
    }));
    return containerFeatures;
  } finally {
    await stopQuietly(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the agent in the container; fails closed (status 12) on a timeout or a missing or disagreeing summary. */
async function execAgent(c: StartedTestContainer, job: Job, phase: AgentPhase, timeoutMs: number): Promise<{ agentStatus: number; log: string; kernel?: string }> {
  const env: Record<string, string> = {};
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid !== undefined && uid !== 0) env.DL_HOST_UID = String(uid);
  if (gid !== undefined && uid !== undefined && uid !== 0) env.DL_HOST_GID = String(gid);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  const exec = c.exec(['bash', `${IN}/docker-init.sh`, job.dir, phase], { env })
    .catch((e: unknown) => new Error(`exec in the container failed: ${(e as Error).message}`));
  const r = await Promise.race([exec, timedOut]).finally(() => clearTimeout(timer));
  if (r === 'timeout') return { agentStatus: 12, log: `the agent timed out after ${timeoutMs} ms (container removed)` };
  if (r instanceof Error) return { agentStatus: 12, log: r.message };
  let summary: { rc: number; kernel: string } | undefined;
  try {
    summary = JSON.parse(readFileSync(path.join(job.dir, 'out', 'docker-summary.json'), 'utf8')) as { rc: number; kernel: string };
  } catch { /* missing: fail closed below */ }
  if (!summary) return { agentStatus: 12, log: `the container's agent ended (status ${r.exitCode}) without its summary: treating the run as broken\n${r.output}` };
  if (summary.rc !== r.exitCode) return { agentStatus: 12, log: `exec status ${r.exitCode} disagrees with the container's summary (${summary.rc})\n${r.output}`, kernel: summary.kernel };
  return { agentStatus: summary.rc, log: r.output, kernel: summary.kernel };
}

export const docker: Runner = {
  name: 'docker',
  async available(features: Set<string>): Promise<Availability> {
    // 1. The image must carry every tool the plan drives.
    const pkgs = new Set(imagePackages());
    const lacking = toolsFor(features).filter((t) => !pkgs.has(TOOL_PACKAGES[t] ?? t));
    if (lacking.length) {
      const need = [...new Set(lacking.map((t) => TOOL_PACKAGES[t] ?? t))];
      return {
        ok: false,
        reason: `the docker image has no ${lacking.join(', ')} (Debian ${need.join(' ')})`,
        fix: `add ${need.join(' ')} to lab/runners/docker-image.packages and run ${BUILD_FIX}`,
      };
    }
    // 2. An engine must answer, and have the image.
    let tc: Testcontainers;
    try {
      tc = await testcontainers();
    } catch (e) {
      return { ok: false, reason: `testcontainers cannot be loaded (${(e as Error).message})`, fix: 'npm install (testcontainers is a dev dependency)' };
    }
    let client;
    try {
      await pingEngine(engineEndpoint());
      client = await withTimeout(tc.getContainerRuntimeClient(), 20_000, 'docker engine');
    } catch (e) {
      return { ok: false, reason: `no docker engine answers at ${engineEndpoint()} (${(e as Error).message})`, fix: ENGINE_FIX };
    }
    const tag = imageTag();
    if (!(await client.image.exists(tc.ImageName.fromString(tag)))) {
      return { ok: false, reason: `the engine has no image ${tag} (the lab's agent image; there is no registry to pull it from)`, fix: BUILD_FIX };
    }
    // 3. The container shares the host's kernel: it must have every feature. As root with the
    // host tools, the native probe answers (a throwaway namespace on the host); otherwise the
    // same probe runs inside a throwaway container.
    let have: Map<string, boolean>;
    try {
      have = process.getuid?.() === 0 && missingTools(toolsFor(features)).length === 0 ? hostFeatures() : await containerProbe(tc);
    } catch (e) {
      return { ok: false, reason: `cannot probe the kernel's features: ${(e as Error).message}`, fix: ENGINE_FIX };
    }
    const missing = [...features].filter((f) => have.has(f) && !have.get(f));
    if (missing.length) {
      return {
        ok: false,
        reason: `containers share the host kernel (${os.release()}), which lacks ${missing.map(featureSource).join('; ')}`,
        fix: 'use --runner uml (Debian package user-mode-linux has these as modules), or a docker host whose kernel has them',
      };
    }
    return { ok: true };
  },

  async run(job: Job, phase: AgentPhase, opts = {}): Promise<RunOutcome> {
    const t0 = Date.now();
    const timeoutMs = opts.timeoutMs ?? 15 * 60_000;
    let result: { agentStatus: number; log: string; kernel?: string };
    if (phase !== 'all') {
      result = { agentStatus: 10, log: `the docker runner runs whole scenarios only (phase all): the lab lives inside the container, which is removed at the end of the run; for ${phase} use --runner native or uml` };
    } else {
      appendJournal(job.dir, [['runner', 'docker'], ['container', `dl-${job.labId}`]]);
      const tc = await testcontainers();
      let c: StartedTestContainer | undefined;
      try {
        // The compiled helpers (built on the host; the image has libpcap through tcpdump), found next to the agent.
        const tools = Object.entries(ensureNativeTools()).map(([name, source]) => ({ source, target: `${IN}/${name}`, mode: 'ro' as const }));
        const mounts = [{ source: job.dir, target: job.dir, mode: 'rw' as const }, ...tools];
        c = await startContainer(tc, `dl-${job.labId}`, mounts, Math.ceil(timeoutMs / 1000) + 120);
        result = await execAgent(c, job, phase, timeoutMs);
      } catch (e) {
        result = { agentStatus: 12, log: `cannot start the container: ${(e as Error).message}` };
      } finally {
        // Stopping the container (the engine then removes it) kills the agent and everything it
        // started; the lab's namespaces go with the container's mount and network namespaces.
        await stopQuietly(c);
      }
    }
    const ev = readEvents(job.dir);
    return {
      runner: 'docker',
      kernel: result.kernel ?? os.release(),
      agentStatus: result.agentStatus,
      timings: {
        boot: ev.first !== undefined ? Math.max(0, Math.round(ev.first - t0)) : 0,
        build: span(ev.build), probe: span(ev.probe), teardown: span(ev.teardown), total: Date.now() - t0,
      },
      log: result.log,
    };
  },
};
