// Placeholder: the trunk datapath is being built (see the family's issue). Replaced wholesale.
import type { Datapath } from './types.ts';

export const trunk: Datapath = {
  kind: 'trunk',
  summary: 'not implemented yet',
  build(): void {
    throw new Error('the trunk datapath is not implemented yet');
  },
};
