// Placeholder: the ipvlan datapath is being built (see the family's issue). Replaced wholesale.
import type { Datapath } from './types.ts';

export const ipvlan: Datapath = {
  kind: 'ipvlan',
  summary: 'not implemented yet',
  build(): void {
    throw new Error('the ipvlan datapath is not implemented yet');
  },
};
