// The registered datapath families: topology `cluster.datapath.kind` → its folder. Adding a
// family is its folder, a topology file and one line here.
import type { Family } from './types.ts';
import { eniip } from './eniip/index.ts';
import { ipvlan } from './ipvlan/index.ts';
import { trunk } from './trunk/index.ts';
import { calico } from './calico/index.ts';
import { eni } from './eni/index.ts';

export const FAMILIES: Family[] = [
  eniip,
  ipvlan,
  trunk,
  calico,
  eni,
];

export function familyFor(kind: string): Family {
  const f = FAMILIES.find((x) => x.kind === kind);
  if (!f) throw new Error(`unknown datapath "${kind}" (available: ${FAMILIES.map((x) => x.kind).join(', ')})`);
  return f;
}

/** The compiler's name for it: the family that builds `kind`. */
export const datapathFor = familyFor;
