// Terway ENI-Trunking (seed 000): the family record — datapath in ./datapath.ts.
import type { Family } from '../types.ts';
import { datapath } from './datapath.ts';
import { validateTrunk } from './validate.ts';

export const trunk: Family = {
  ...datapath,
  schema: {
    datapath: {
      trunkMode: { enum: ['veth', 'vlan'], description: '"veth": the article\'s cali veth and member VLAN on the node; "vlan": the member VLAN is the pod\'s eth0 (Terway\'s vlan driver)' },
    },
    eni: { trunk: { type: 'boolean' } },
    pod: {
      memberEni: {
        type: 'object',
        additionalProperties: false,
        required: ['vlan', 'vswitch'],
        properties: {
          vlan: { type: 'integer', minimum: 1, maximum: 4094 },
          vswitch: { $ref: '#/definitions/name' },
          mac: { $ref: '#/definitions/mac' },
          securityGroups: { type: 'array', maxItems: 5, items: { $ref: '#/definitions/name' } },
        },
      },
    },
  },
  defaults: { trunkMode: 'veth' },
  validate: validateTrunk,
  features: [{
    name: 'vlan', config: 'CONFIG_VLAN_8021Q (module 8021q)', modules: ['8021q'],
    probe: ['ip', '-n', '@NS@', 'link', 'add', 'link', 't0', 'name', 't0.5', 'type', 'vlan', 'id', '5'],
  }],
};
