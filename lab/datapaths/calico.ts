// Placeholder: the calico datapath is being built (see the family's issue). Replaced wholesale.
import type { Datapath } from './types.ts';

export const calico: Datapath = {
  kind: 'calico',
  summary: 'not implemented yet',
  build(): void {
    throw new Error('the calico datapath is not implemented yet');
  },
};
