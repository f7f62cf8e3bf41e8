/**
 * kube-proxy by release: what changed in the iptables payload between the releases this lab reproduces.
 * A version is "MAJOR.MINOR" or "MAJOR.MINOR.PATCH"; each feature is keyed to the first release of a
 * minor (cherry-picks into older patch releases, e.g. PR 92035 into 1.16–1.18, are not modelled).
 *
 *  - spnAlwaysColon (< 1.19): `ServicePortName.String()` was `fmt.Sprintf("%s:%s", ns/name, port)`, so
 *    an unnamed port hashed as "ns/name:" (KUBE-SVC-JKOCBQALQGD3X3RT for default/nginx-demo-1/tcp, the
 *    article's chain). Since 1.19 the ':' is written only for a named port.
 *    https://github.com/kubernetes/kubernetes/pull/90031 ,
 *    https://github.com/kubernetes/kubernetes/blob/v1.18.0/pkg/proxy/types.go
 *  - markForm (< 1.19 'set-xmark'): the masquerade mark was "%#08x/%#08x", KUBE-POSTROUTING had one
 *    `-m mark --mark M/M -j MASQUERADE` rule and KUBE-MARK-MASQ `--set-xmark M/M`; 1.19 added the
 *    RETURN / --xor-mark pair and --or-mark (https://github.com/kubernetes/kubernetes/pull/92035).
 *  - masqInServiceChain (≥ 1.21): the KUBE-MARK-MASQ jumps for cluster IPs, external IPs and NodePorts
 *    moved from KUBE-SERVICES / KUBE-NODEPORTS into the service's KUBE-SVC chain
 *    (https://github.com/kubernetes/kubernetes/pull/96959).
 *  - layout (< 1.24 'xlb'): KUBE-XLB chains for externalTrafficPolicy=Local and KUBE-MARK-DROP in
 *    KUBE-FW; 1.24 reorganised them into KUBE-EXT / KUBE-SVL (and later KUBE-PROXY-FIREWALL)
 *    (https://github.com/kubernetes/kubernetes/pull/109060).
 *  - nfacctCtInvalid (≥ 1.30): `-m nfacct --nfacct-name ct_state_invalid_dropped_pkts` on the
 *    KUBE-FORWARD INVALID drop (https://github.com/kubernetes/kubernetes/pull/122812).
 *  - nfacctLocalhostNodePorts (≥ 1.31): per NodePort a `-d 127.0.0.0/8 … -m nfacct --nfacct-name
 *    localhost_nps_accepted_pkts` rule ahead of the NodePort rule
 *    (https://github.com/kubernetes/kubernetes/pull/125015; expected text in TestOverallIPTablesRules,
 *    https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/iptables/proxier_test.go).
 *    Both nfacct matches are written only when kube-proxy could create the counters (input.nfacct).
 *
 *
 * IPVS mode (lab/services/ipvs/), written from the ipvs proxier of the v1.32 era
 * (https://github.com/kubernetes/kubernetes/blob/v1.32.0/pkg/proxy/ipvs/proxier.go):
 *  - markForm (< 1.19) as above: PR 92035 changed the IPVS proxier's KUBE-POSTROUTING too.
 *  - ipvsFilter (≥ 1.26): the filter chain KUBE-IPVS-FILTER and the hash:ip set KUBE-IPVS-IPS (every
 *    address bound to kube-ipvs0) — new connections to a VIP on a port no Service opens are rejected
 *    (https://github.com/kubernetes/kubernetes/pull/108460, merged for 1.26; issue 72236).
 *  - ipvsOutFilter (≥ 1.29): KUBE-IPVS-OUT-FILTER in OUTPUT drops the node's own connections to a
 *    load-balancer IP whose loadBalancerSourceRanges leave the node out
 *    (https://github.com/kubernetes/kubernetes/pull/119791, issue 119656).
 *  Not modelled for IPVS: older layouts of loadBalancerSourceRanges (a nat KUBE-FIREWALL chain with
 *  KUBE-MARK-DROP, https://github.com/kubernetes/kubernetes/issues/62638, before the filter-table
 *  KUBE-PROXY-FIREWALL / KUBE-SOURCE-RANGES-FIREWALL chains), and the releases before the health-check
 *  NodePort set and the filter-table KUBE-NODE-PORT chain (both in a 1.25-era text of the proxier) —
 *  every release writes them as the v1.32 text does.
 *
 * Not modelled (restore text differs, kernel state does not): before 1.22 kube-proxy wrote `-d IP/32`
 * (utilproxy.ToCIDR) where later releases write `-d IP`; ≤ 1.22 commented KUBE-XLB load-balancing rules
 * "Balancing rule <i> for <spn>"; before 1.20 KUBE-FORWARD also had pod-source/destination rules for
 * --cluster-cidr.
 */

export type Layout = 'ext' | 'xlb';

export interface ReleaseFeatures {
  /** The version as given (or the default). */
  version: string;
  minor: number;
  spnAlwaysColon: boolean;
  markForm: 'set-xmark' | 'or-mark';
  masqInServiceChain: boolean;
  layout: Layout;
  nfacctCtInvalid: boolean;
  nfacctLocalhostNodePorts: boolean;
  /** IPVS mode: KUBE-IPVS-FILTER + the KUBE-IPVS-IPS set (≥ 1.26). */
  ipvsFilter: boolean;
  /** IPVS mode: KUBE-IPVS-OUT-FILTER (≥ 1.29). */
  ipvsOutFilter: boolean;
}

/** The release reproduced when a topology names none: a current one (its golden test is v1.31's). */
export const DEFAULT_KUBE_PROXY_VERSION = '1.31';
/** The oldest release reproduced: iptables mode's EndpointSlice-era payloads (1.16 onwards). */
export const OLDEST_KUBE_PROXY_MINOR = 16;

const VERSION_RE = /^v?1\.(\d{1,2})(?:\.(\d{1,3}))?$/;

/** True when `v` names a release this module can reproduce ("1.16" … "1.99", optional patch, optional "v"). */
export function isKubeProxyVersion(v: string): boolean {
  const m = VERSION_RE.exec(v);
  return !!m && Number(m[1]) >= OLDEST_KUBE_PROXY_MINOR;
}

export function releaseFeatures(version: string = DEFAULT_KUBE_PROXY_VERSION): ReleaseFeatures {
  const m = VERSION_RE.exec(version);
  if (!m || Number(m[1]) < OLDEST_KUBE_PROXY_MINOR) {
    throw new RangeError(`kube-proxy version ${JSON.stringify(version)}: expected 1.${OLDEST_KUBE_PROXY_MINOR} or later, as "1.MINOR[.PATCH]"`);
  }
  const minor = Number(m[1]);
  return {
    version,
    minor,
    spnAlwaysColon: minor < 19,
    markForm: minor < 19 ? 'set-xmark' : 'or-mark',
    masqInServiceChain: minor >= 21,
    layout: minor < 24 ? 'xlb' : 'ext',
    nfacctCtInvalid: minor >= 30,
    nfacctLocalhostNodePorts: minor >= 31,
    ipvsFilter: minor >= 26,
    ipvsOutFilter: minor >= 29,
  };
}
