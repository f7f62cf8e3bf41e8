// Services and EndpointSlices as kube-proxy's proxier sees them (its ServicePortMap and EndpointsMap,
// pkg/proxy/serviceport.go and endpointslicecache.go), flattened into the payload builder's input.
import type { KubeProxyEndpoint, KubeProxyService } from '../services/iptables/index.ts';
import { kubeProxyServiceSpec } from '../services/kubeproxy-iptables.ts';
import type { ClusterObjects, EndpointSliceObject, ServiceObject } from './objects.ts';

function slicesOf(svc: ServiceObject, slices: readonly EndpointSliceObject[]): EndpointSliceObject[] {
  return slices.filter((s) => s.namespace === svc.namespace && s.serviceName === svc.name);
}

/**
 * The endpoints of a Service: every endpoint of its slices, with the slice's ports of the same name
 * and protocol as a service port (kube-proxy matches a slice port to a ServicePortName by both).
 */
export function sliceEndpoints(svc: ServiceObject, slices: readonly EndpointSliceObject[]): KubeProxyEndpoint[] {
  const out: KubeProxyEndpoint[] = [];
  for (const slice of slicesOf(svc, slices)) {
    const ports: Record<string, number> = {};
    for (const p of slice.ports) {
      if (svc.ports.some((sp) => (sp.name ?? '') === p.name && sp.protocol === p.protocol)) ports[p.name] = p.port;
    }
    for (const ep of slice.endpoints) {
      out.push({ ip: ep.ip, nodeName: ep.nodeName ?? '', ready: ep.ready, serving: ep.serving, terminating: ep.terminating, ports });
    }
  }
  return out;
}

/** One Service for the builder; undefined for what kube-proxy skips (headless, ExternalName). */
export function kubeProxyService(svc: ServiceObject, slices: readonly EndpointSliceObject[]): KubeProxyService | undefined {
  if (!svc.clusterIP || svc.type === 'ExternalName') return undefined;
  return { ...kubeProxyServiceSpec({ ...svc, clusterIP: svc.clusterIP, type: svc.type }), endpoints: sliceEndpoints(svc, slices) };
}

export function kubeProxyServices(objects: Pick<ClusterObjects, 'services' | 'endpointSlices'>): KubeProxyService[] {
  return objects.services.flatMap((s) => kubeProxyService(s, objects.endpointSlices) ?? []);
}
