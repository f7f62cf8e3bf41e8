// A datapath wires nodes and pods: the node namespaces, their ENIs (plugged into the fabric),
// the pod namespaces and whatever joins a pod to its node. One module per datapath; the
// registry (./index.ts) maps the topology's `datapath.kind` to it.
import type { BuildContext } from '../context.ts';

export interface Datapath {
  kind: string;
  /** One line for `lab list`/`explain`. */
  summary: string;
  build(ctx: BuildContext): void;
}
