// The contract of a datapath family: everything a family is lives in lab/families/<kind>/ and
// is registered by one line in ./registry.ts. A family wires nodes and pods (the node
// namespaces, their ENIs plugged into the fabric, the pod namespaces and whatever joins a pod to
// its node), adds its fields to the topology schema, defaults its options, checks what the
// schema cannot, and names the kernel features it needs.
import type { BuildContext } from '../context.ts';
import type { ClusterNode, Pod, Topology, VSwitch } from '../model.ts';

/** A JSON Schema object (draft-07 subset that ajv strict mode accepts). */
export type JsonSchema = Record<string, unknown>;

/**
 * What a family adds to the core schema (schema/core.schema.json), by extension point: its
 * datapath options (`cluster.datapath` and a scenario's `datapath` override), and fields of the
 * cluster, of a node, of an ENI and of a pod. Two families may declare the same field only
 * with the same schema.
 */
export interface SchemaFragment {
  datapath?: Record<string, JsonSchema>;
  cluster?: Record<string, JsonSchema>;
  node?: Record<string, JsonSchema>;
  eni?: Record<string, JsonSchema>;
  pod?: Record<string, JsonSchema>;
}

export type PathSeg = string | number;

/** What a family's semantic check sees: the model, lookups, and where to report a problem. */
export interface SemanticContext {
  topology: Topology;
  nodes: Map<string, ClusterNode>;
  pods: Map<string, Pod>;
  vswitches: Map<string, VSwitch>;
  groups: Set<string>;
  /** Reports a problem at a YAML path (file:line:column comes from the path). */
  add(path: PathSeg[], message: string): void;
}

/**
 * A kernel feature a build needs, in one record: how to get it (CONFIG_ option, modules the UML
 * guest loads), how to probe it in a throwaway namespace, and the host tools it needs with their
 * Debian packages. Probes are argv arrays, never shell text: `@NS@` is the probe namespace,
 * `@IPTABLES_RESTORE@` the runner's iptables-restore.
 */
export interface FeatureRecord {
  name: string;
  config: string;
  modules: string[];
  probe?: string[];
  /** tool → Debian package. */
  tools?: Record<string, string>;
}

export interface Family {
  kind: string;
  /** One line for `lab list`/`explain`. */
  summary: string;
  schema: SchemaFragment;
  /** Defaults of the options this family adds to `cluster.datapath`. */
  defaults: Record<string, unknown>;
  /** Checks beyond the schema, run when the cluster or a scenario uses this family. */
  validate(s: SemanticContext): void;
  features: FeatureRecord[];
  build(ctx: BuildContext): void;
}

/** Older name of the family contract, as the compiler sees it. */
export type Datapath = Family;
