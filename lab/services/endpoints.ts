// Which endpoints each kind of virtual IP gets on a node, as kube-proxy decides it.
import type { Cluster, Pod, Service, ServicePort } from '../model.ts';

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

/**
 * The port a service port reaches on `pod`: its numeric targetPort, or the pod's container port of
 * that name (undefined: the pod has no such port, so it is no endpoint of this service port — as the
 * EndpointSlice controller decides).
 */
export function targetPortOn(pod: Pod, sp: ServicePort): number | undefined {
  return typeof sp.targetPort === 'number' ? sp.targetPort : pod.namedPorts[sp.targetPort];
}

/** The endpoints of one service port as (pod, port) pairs, pods without the named port left out. */
export function portBackends(pods: readonly Pod[], sp: ServicePort): { pod: Pod; ip: string; port: number }[] {
  return pods.flatMap((pod) => {
    const port = targetPortOn(pod, sp);
    return port === undefined ? [] : [{ pod, ip: pod.ip, port }];
  });
}
