// Terway ENIIP (seed 001): the family record — datapath in ./datapath.ts.
import { requireSecondaryEni } from '../shared/validate.ts';
import type { Family } from '../types.ts';
import { datapath } from './datapath.ts';

export const eniip: Family = {
  ...datapath,
  schema: {
    datapath: {
      legacyIifRule: { type: 'boolean', description: 'rule 2048 also matches `iif cali…` (Terway ≤ 2022, the article\'s era)' },
    },
  },
  defaults: { legacyIifRule: false },
  validate: (s) => requireSecondaryEni(s, 'eniip'),
  features: [], // veth and policy routing: core features
};
