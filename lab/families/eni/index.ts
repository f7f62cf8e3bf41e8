// Terway exclusive ENI: the family record — datapath in ./datapath.ts.
import type { Family } from '../types.ts';
import { datapath } from './datapath.ts';
import { validateEni } from './validate.ts';

export const eni: Family = {
  ...datapath,
  schema: {
    datapath: {
      hostStackCIDRs: {
        type: 'array', maxItems: 16, items: { $ref: '#/definitions/cidr' },
        description: 'Terway host_stack_cidrs: destinations an exclusive-ENI pod reaches through the node (veth1) instead of its ENI',
      },
    },
  },
  defaults: { hostStackCIDRs: [] },
  validate: validateEni,
  features: [], // veth, iptables (masquerade): core features
};
