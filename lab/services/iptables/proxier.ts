/**
 * kube-proxy iptables mode, rebuilt as a pure function: Service/Endpoint state of one node in, the
 * complete `iptables-restore` input out (filter + nat, and the mangle canary), as kube-proxy writes it.
 *
 * The release reproduced (input.version, release.ts) picks the layout and what changed between
 * releases; the layouts are layout-ext.ts (≥ 1.24: KUBE-EXT/KUBE-SVL, KUBE-PROXY-FIREWALL) and
 * layout-xlb.ts (< 1.24: KUBE-XLB, KUBE-MARK-DROP); the pieces both write are in writers.ts, the
 * built-in chain jumps in jumps.ts. Golden checks: test/unit/kubeproxy-iptables.test.ts (kubernetes'
 * `TestOverallIPTablesRulesWithMultipleServices`) and test/unit/kubeproxy-golden.test.ts
 * (`TestOverallIPTablesRules`, inputs as manifests in test/fixtures/k8s/).
 *
 * Differences from a live kube-proxy, all deliberate:
 *  - Services are emitted in input order (kube-proxy walks a Go map, so its order is random; only the
 *    order *within* a chain matters to the kernel, and that is reproduced exactly). Endpoints are sorted
 *    by "ip:port" string, deduplicated, exactly like kube-proxy's EndpointsMap.
 *  - The built-in-chain jumps (which kube-proxy/kubelet add with `iptables -I … 1`, outside the restore)
 *    are written into the same payload (see JumpMode), so ONE `iptables-restore --noflush` call sets
 *    up a whole node. The KUBE-PROXY-CANARY chains (created by kube-proxy's monitor) are declared too.
 *  - nfacct matches only when input.nfacct says the counters exist (kube-proxy probes for them); no
 *    stale-conntrack work.
 *
 * Apply with `iptables-restore --noflush --counters` (what kube-proxy runs); accepted by both
 * iptables-legacy-restore and iptables-nft-restore.
 */
import { buildExt } from './layout-ext.ts';
import { buildXlb } from './layout-xlb.ts';
import { jumpLines } from './jumps.ts';
import { buildPortInfos, inputRelease, resolveOptions } from './model.ts';
import type { KubeProxyIptablesInput, KubeProxyIptablesResult } from './types.ts';
import { chainLine, KUBE_PROXY_CANARY, type Buffers } from './writers.ts';

function chainNameOf(chainDecl: string): string {
  return chainDecl.slice(1, chainDecl.indexOf(' '));
}

/** Builds the payload and a description of the chains it uses. Pure. */
export function buildKubeProxyIptables(input: KubeProxyIptablesInput): KubeProxyIptablesResult {
  const release = inputRelease(input);
  const ports = buildPortInfos(input, release);
  const o = resolveOptions(input, release, ports);
  const b: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };
  if (o.flavor === 'ext') buildExt(b, o, ports);
  else buildXlb(b, o, ports);

  if (o.canary) {
    b.filterChains.push(chainLine(KUBE_PROXY_CANARY));
    b.natChains.push(chainLine(KUBE_PROXY_CANARY));
  }

  const out: string[] = [];
  out.push('*filter', ...b.filterChains, ...jumpLines('filter', o), ...b.filterRules, 'COMMIT');
  out.push('*nat', ...b.natChains, ...jumpLines('nat', o), ...b.natRules, 'COMMIT');
  const mangle: string[] = [];
  if (o.canary) {
    mangle.push(KUBE_PROXY_CANARY);
    out.push('*mangle', chainLine(KUBE_PROXY_CANARY), 'COMMIT');
  }
  return {
    payload: out.join('\n') + '\n',
    chains: {
      filter: b.filterChains.map(chainNameOf),
      nat: b.natChains.map(chainNameOf),
      mangle,
    },
    servicePorts: ports.map((p) => p.report),
    masqueradeMark: o.masqueradeMark,
    version: release.version,
  };
}

/** The complete `iptables-restore` input for one node (see {@link buildKubeProxyIptables}). */
export function buildIptablesRestore(input: KubeProxyIptablesInput): string {
  return buildKubeProxyIptables(input).payload;
}
