// Terway IPVLAN + eBPF (seed 002): the family record — datapath in ./datapath.ts.
import { requireSecondaryEni } from '../shared/validate.ts';
import type { Family } from '../types.ts';
import { datapath } from './datapath.ts';

export const ipvlan: Family = {
  ...datapath,
  schema: {
    datapath: {
      inClusterLoadBalance: { type: 'boolean', description: 'ExternalIPs short-cut in-cluster by the eBPF service table (Terway in_cluster_loadbalance)' },
    },
  },
  defaults: { inClusterLoadBalance: true },
  validate: (s) => requireSecondaryEni(s, 'ipvlan'),
  features: [{
    name: 'ipvlan', config: 'CONFIG_IPVLAN (module ipvlan)', modules: ['ipvlan'],
    probe: ['ip', '-n', '@NS@', 'link', 'add', 'link', 't0', 'name', 'iv0', 'type', 'ipvlan', 'mode', 'l2'],
  }],
};
