// Registry of service proxies: topology `cluster.serviceProxy.kind` → module.
import type { ServiceProxy } from './types.ts';
import { ipvs } from './ipvs.ts';

const none: ServiceProxy = { kind: 'none', summary: 'no service proxy', build() {} };

export const SERVICE_PROXIES: Record<string, ServiceProxy> = { ipvs, none };

export function serviceProxyFor(kind: string): ServiceProxy {
  const s = SERVICE_PROXIES[kind];
  if (!s) throw new Error(`service proxy "${kind}" is not implemented yet (available: ${Object.keys(SERVICE_PROXIES).join(', ')})`);
  return s;
}
