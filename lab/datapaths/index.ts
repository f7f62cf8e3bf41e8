// Registry of datapaths: topology `cluster.datapath.kind` → module (one file per datapath).
import type { Datapath } from './types.ts';
import { calico } from './calico.ts';
import { eniip } from './eniip.ts';
import { ipvlan } from './ipvlan.ts';
import { trunk } from './trunk.ts';

export const DATAPATHS: Record<string, Datapath> = { eniip, ipvlan, trunk, calico };

export function datapathFor(kind: string): Datapath {
  const d = DATAPATHS[kind];
  if (!d) throw new Error(`unknown datapath "${kind}" (available: ${Object.keys(DATAPATHS).join(', ')})`);
  return d;
}
