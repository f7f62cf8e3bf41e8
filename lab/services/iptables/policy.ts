// Which endpoints a service port uses, shared by the iptables and the IPVS proxier as kube-proxy
// shares them: the policies of BaseServicePortInfo
// (https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/serviceport.go) and
// CategorizeEndpoints (https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/topology.go;
// topology hints not modelled).
import type { EpInfo, PortInfo } from './model.ts';

export interface TrafficPolicies {
  /** ExternalPolicyLocal: externalTrafficPolicy Local on a service reachable from outside. */
  externalLocal: boolean;
  /** InternalPolicyLocal: internalTrafficPolicy Local. */
  internalLocal: boolean;
  /** A NodePort, load-balancer ingress or external IP exists. */
  externallyAccessible: boolean;
  usesCluster: boolean;
  usesLocal: boolean;
}

export function trafficPolicies(p: PortInfo): TrafficPolicies {
  const externallyAccessibleSvc = p.type === 'LoadBalancer' || p.type === 'NodePort' || (p.type === 'ClusterIP' && p.externalIPs.length > 0);
  const externalLocal = externallyAccessibleSvc && p.svc.externalTrafficPolicy === 'Local';
  const internalLocal = p.svc.internalTrafficPolicy === 'Local';
  const externallyAccessible = p.nodePort !== 0 || p.lbIPs.length > 0 || p.externalIPs.length > 0;
  return {
    externalLocal,
    internalLocal,
    externallyAccessible,
    usesCluster: !internalLocal || (externallyAccessible && !externalLocal),
    usesLocal: internalLocal || (externallyAccessible && externalLocal),
  };
}

export function categorizeEndpoints(
  eps: readonly EpInfo[],
  usesCluster: boolean,
  usesLocal: boolean,
): { cluster: EpInfo[]; local: EpInfo[]; all: EpInfo[]; hasAny: boolean } {
  // pkg/proxy/topology.go CategorizeEndpoints (topology hints not modelled).
  let cluster: EpInfo[] = [];
  let local: EpInfo[] = [];
  let hasAny = false;
  let useServingTerminating = false;
  if (usesCluster) {
    cluster = eps.filter((e) => e.ready);
    if (cluster.length === 0) {
      useServingTerminating = true;
      cluster = eps.filter((e) => e.serving && e.terminating);
    }
    if (cluster.length > 0) hasAny = true;
  }
  if (!usesLocal) return { cluster, local, all: cluster, hasAny };
  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const e of eps) {
    if (e.ready) {
      hasAny = true;
      if (e.isLocal) hasLocalReady = true;
    } else if (e.serving && e.terminating) {
      hasAny = true;
      if (e.isLocal) hasLocalServingTerminating = true;
    }
  }
  if (hasLocalReady) {
    local = eps.filter((e) => e.isLocal && e.ready);
  } else if (hasLocalServingTerminating) {
    useServingTerminating = true;
    local = eps.filter((e) => e.isLocal && e.serving && e.terminating);
  }
  if (!usesCluster) return { cluster, local, all: local, hasAny };
  if (!useServingTerminating) return { cluster, local, all: cluster, hasAny };
  const merged = new Map<string, EpInfo>();
  for (const e of cluster) merged.set(e.str, e);
  for (const e of local) merged.set(e.str, e);
  const all = [...merged.values()].sort((a, b) => (a.str < b.str ? -1 : a.str > b.str ? 1 : 0));
  return { cluster, local, all, hasAny };
}
