// Registry of datapaths: topology `cluster.datapath.kind` → module.
import type { Datapath } from './types.ts';
import { eniip } from './eniip.ts';

export const DATAPATHS: Record<string, Datapath> = {
  eniip,
};

export function datapathFor(kind: string): Datapath {
  const d = DATAPATHS[kind];
  if (!d) throw new Error(`datapath "${kind}" is not implemented yet (available: ${Object.keys(DATAPATHS).join(', ')})`);
  return d;
}
