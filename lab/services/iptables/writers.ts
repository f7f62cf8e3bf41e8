// The pieces of kube-proxy's iptables-restore payload that both layouts (layout-ext.ts, layout-xlb.ts)
// write the same way: names, line formatting, the masquerade machinery, KUBE-FORWARD, the per-endpoint
// KUBE-SEP chains, the load-balancing rules and the KUBE-SERVICES → KUBE-NODEPORTS tail.
// Source: kubernetes pkg/proxy/iptables/proxier.go `syncProxyRules` / `writeServiceToEndpointRules`
// (https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/iptables/proxier.go).
import { cidrHolds, isLoopback } from './marks.ts';
import { isServiceChainName } from './hash.ts';
import type { EpInfo, Options, PortInfo } from './model.ts';
import { computeProbability } from './probability.ts';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_MARK_DROP = 'KUBE-MARK-DROP';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

export const NODEPORTS_COMMENT = 'kubernetes service nodeports; NOTE: this must be the last rule in this chain';
/** The nfacct counters kube-proxy creates (pkg/proxy/metrics: PRs 122812 → v1.30, 125015 → v1.31). */
export const NFACCT_CT_INVALID = 'ct_state_invalid_dropped_pkts';
export const NFACCT_LOCALHOST_NODEPORTS = 'localhost_nps_accepted_pkts';

export type Table = 'filter' | 'nat';
export type Part = string | readonly string[];

export interface Buffers {
  filterChains: string[];
  filterRules: string[];
  natChains: string[];
  natRules: string[];
}

export function line(...parts: Part[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') out.push(p);
    else out.push(...p);
  }
  return out.join(' ');
}

/** kube-proxy writes multi-word comments pre-quoted: fmt.Sprintf(`"%s cluster IP"`, …). */
export function q(s: string): string {
  return `"${s}"`;
}

export function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** Declares a per-service chain once and records it as active (kept) and as this port's. */
export function declareNat(b: Buffers, active: Set<string>, declared: string[], chain: string): void {
  b.natChains.push(chainLine(chain));
  active.add(chain);
  declared.push(chain);
}

/**
 * KUBE-POSTROUTING / KUBE-MARK-MASQ. Since v1.19 (PR 92035, "unmark packets before masquerading
 * them", https://github.com/kubernetes/kubernetes/pull/92035) a RETURN for unmarked packets, an
 * --xor-mark that clears the bit, then MASQUERADE, and the mark is set with --or-mark. Before, the mark
 * was "%#08x/%#08x" and one rule matched it (`-m mark --mark M/M -j MASQUERADE`, `--set-xmark M/M`).
 */
export function masqueradeRules(o: Pick<Options, 'masqueradeMark' | 'randomFully' | 'release'>): string[] {
  const m = o.masqueradeMark;
  const random = o.randomFully ? ['--random-fully'] : [];
  const snat = ['-m', 'comment', '--comment', q('kubernetes service traffic requiring SNAT')];
  if (o.release.markForm === 'set-xmark') {
    return [
      line('-A', KUBE_POSTROUTING, snat, '-m', 'mark', '--mark', `${m}/${m}`, '-j', 'MASQUERADE', random),
      line('-A', KUBE_MARK_MASQ, '-j', 'MARK', '--set-xmark', `${m}/${m}`),
    ];
  }
  return [
    line('-A', KUBE_POSTROUTING, '-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN'),
    // Clear the mark to avoid re-masquerading if the packet re-traverses the network stack.
    line('-A', KUBE_POSTROUTING, '-j', 'MARK', '--xor-mark', m),
    line('-A', KUBE_POSTROUTING, snat, '-j', 'MASQUERADE', random),
    line('-A', KUBE_MARK_MASQ, '-j', 'MARK', '--or-mark', m),
  ];
}

export function writeMasqueradeMachinery(b: Buffers, o: Options): void {
  b.natRules.push(...masqueradeRules(o));
}

export function writeStaleChainDeletes(b: Buffers, o: Options, active: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const chain of o.existingNatChains) {
    if (seen.has(chain) || active.has(chain) || !isServiceChainName(chain)) continue;
    seen.add(chain);
    b.natChains.push(chainLine(chain));
    b.natRules.push(line('-X', chain));
  }
}

export function writeKubeForward(b: Buffers, o: Options, invalidDrop: boolean): void {
  if (invalidDrop) {
    const acct = o.nfacct.ctInvalid ? ['-m', 'nfacct', '--nfacct-name', NFACCT_CT_INVALID] : [];
    b.filterRules.push(line('-A', KUBE_FORWARD, '-m', 'conntrack', '--ctstate', 'INVALID', acct, '-j', 'DROP'));
  }
  b.filterRules.push(
    line(
      '-A', KUBE_FORWARD,
      '-m', 'comment', '--comment', q('kubernetes forwarding rules'),
      '-m', 'mark', '--mark', `${o.masqueradeMark}/${o.masqueradeMark}`,
      '-j', 'ACCEPT',
    ),
  );
  b.filterRules.push(
    line(
      '-A', KUBE_FORWARD,
      '-m', 'comment', '--comment', q('kubernetes forwarding conntrack rule'),
      '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED',
      '-j', 'ACCEPT',
    ),
  );
}

/** `-A <chain> [-m comment --comment …]`, without the comment in large-cluster mode. */
export function commented(o: Options, chain: string, text: string): Part[] {
  return o.largeClusterMode ? ['-A', chain] : ['-A', chain, '-m', 'comment', '--comment', text];
}

/**
 * The load-balancing rules of a KUBE-SVC/KUBE-SVL/KUBE-XLB chain: with ClientIP affinity a
 * `recent --rcheck` rule per endpoint first, then one `statistic` rule per endpoint (1/(n-i)), the last
 * unconditional. `comment` is what the release writes on each rule.
 */
export function writeLbRules(b: Buffers, o: Options, p: PortInfo, chain: string, eps: readonly EpInfo[], comment: (ep: EpInfo) => string): void {
  if (p.stickySeconds !== undefined) {
    for (const ep of eps) {
      b.natRules.push(
        line(
          ...commented(o, chain, comment(ep)),
          '-m', 'recent', '--name', ep.chain,
          '--rcheck', '--seconds', String(p.stickySeconds), '--reap',
          '-j', ep.chain,
        ),
      );
    }
  }
  const n = eps.length;
  eps.forEach((ep, i) => {
    const stat = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', computeProbability(n - i)] : [];
    b.natRules.push(line(...commented(o, chain, comment(ep)), stat, '-j', ep.chain));
  });
}

/** One KUBE-SEP chain: hairpin masquerade, then DNAT (with `recent --set` under ClientIP affinity). */
export function writeEndpointChain(b: Buffers, o: Options, p: PortInfo, ep: EpInfo): void {
  const args = commented(o, ep.chain, p.spn);
  b.natRules.push(line(...args, '-s', ep.ip, '-j', KUBE_MARK_MASQ));
  const affinity = p.stickySeconds !== undefined ? ['-m', 'recent', '--name', ep.chain, '--set'] : [];
  b.natRules.push(line(...args, affinity, '-m', p.proto, '-p', p.proto, '-j', 'DNAT', '--to-destination', ep.str));
}

/** The last KUBE-SERVICES rule(s): local destinations (or the --nodeport-addresses) → KUBE-NODEPORTS. */
export function writeNodePortsTail(b: Buffers, o: Options, excludeLoopback: boolean): void {
  const head = ['-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(NODEPORTS_COMMENT)];
  if (o.nodePortAddresses.length === 0) {
    const dest: string[] = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
    if (excludeLoopback && !o.localhostNodePorts) dest.push('!', '-d', '127.0.0.0/8');
    b.natRules.push(line(head, dest, '-j', KUBE_NODEPORTS));
    return;
  }
  for (const ip of o.nodePortAddresses) {
    if (excludeLoopback && isLoopback(ip) && !o.localhostNodePorts) continue;
    b.natRules.push(line(head, '-d', ip, '-j', KUBE_NODEPORTS));
  }
}

/** loadBalancerSourceRanges: whether a range holds the node IP (then the LB IP itself is allowed too). */
export function rangesHoldNode(o: Options, ranges: readonly string[]): boolean {
  return o.nodeIP !== undefined && ranges.some((r) => cidrHolds(r, o.nodeIP!));
}
