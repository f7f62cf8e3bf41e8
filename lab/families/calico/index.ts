// Calico with BGP, peered with top-of-rack routers (seed 003): the family record — datapath in
// ./datapath.ts, the ToR/core routers in ./tor.ts, BIRD configs and birdc parsers in ./bgp/.
import type { Family } from '../types.ts';
import { datapath } from './datapath.ts';
import { validateCalico } from './validate.ts';

const asNumber = { type: 'integer', minimum: 1, maximum: 4294967295 };

export const calico: Family = {
  ...datapath,
  schema: {
    node: {
      podCIDR: { $ref: '#/definitions/cidr' },
      as: asNumber,
      rack: { $ref: '#/definitions/name' },
    },
    cluster: {
      routers: {
        type: 'array',
        maxItems: 16,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'as', 'ip'],
          properties: {
            name: { $ref: '#/definitions/name' },
            as: asNumber,
            ip: { $ref: '#/definitions/ipv4' },
            peers: { type: 'array', items: { $ref: '#/definitions/name' } },
            vswitch: {
              $ref: '#/definitions/name',
              description: 'the segment this router is the layer-3 switch of (a top-of-rack router): a bridge holding the segment\'s gateway address, into which the nodes whose ENI sits on that segment are plugged',
            },
          },
        },
      },
    },
  },
  defaults: {},
  validate: validateCalico,
  features: [{ name: 'bgp', config: 'BIRD 2 (userspace; no kernel option)', modules: [], tools: { bird: 'bird2', birdc: 'bird2' } }],
};
