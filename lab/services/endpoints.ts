// Which endpoints each kind of virtual IP gets on a node, as kube-proxy decides it.
import type { Cluster, Pod, Service } from '../model.ts';

export function endpointPods(cluster: Cluster, svc: Service): Pod[] {
  return svc.endpoints.map((name) => cluster.pods.find((p) => p.name === name)!);
}

/**
 * Endpoints for an ExternalIP/LoadBalancer VIP on `node`: all of them under the Cluster policy;
 * only the node's own under Local — and, before Kubernetes 1.21 (localPolicyFallback false),
 * none at all when the node has no local endpoint (kubernetes PR #97081 changed that).
 */
export function externalEndpoints(cluster: Cluster, svc: Service, node: string): Pod[] {
  const all = endpointPods(cluster, svc);
  if (svc.externalTrafficPolicy === 'Cluster') return all;
  const local = all.filter((p) => p.node === node);
  if (local.length === 0 && cluster.serviceProxy.localPolicyFallback) return all;
  return local;
}
