// Topology loading, one step per concern: read the file → YAML with positions (./locate.ts) →
// schema check (./schema.ts: the core schema plus each family's fragment, ajv) → model with
// defaults (./model-build.ts) → semantic checks (./semantics.ts: cross-family checks, each
// family's own, the scenarios' references). Every problem is reported with file:line:column, the
// field and what was expected; nothing is built from a file that has a problem.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { InputError, type InputIssue } from '../errors.ts';
import { mergeManifests } from '../kubernetes/merge.ts';
import type { Topology } from '../model.ts';
import { Locator } from './locate.ts';
import { toModel, type RawTopology } from './model-build.ts';
import { schemaIssues } from './schema.ts';
import { checkSemantics } from './semantics.ts';
import { addressIssues } from './addresses.ts';
import { checkShape, readTopologyText } from './read.ts';

export { checkAddressRef, checkIfaceRef, resolveAddress, type ResolvedAddress } from './refs.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const TOPOLOGY_DIR = path.resolve(here, '../../topologies');

/** Reads a topology file. Throws InputError (exit 2) with every problem found. */
export function loadTopology(file: string): Topology {
  return parseTopology(readTopologyText(file), file);
}

export function parseTopology(text: string, file: string): Topology {
  const { raw, loc } = parseYaml(text, file);
  failOn(schemaIssues(raw, loc));
  // cluster.manifests: Kubernetes objects merged by name into the nodes, pods and services.
  const model = toModel(mergeManifests(raw as RawTopology, file, loc), file);
  failOn([...checkSemantics(model, loc), ...addressIssues(model, loc)]);
  return model;
}

function failOn(issues: InputIssue[]): void {
  if (issues.length) throw new InputError(issues);
}

/** YAML text → plain data and a locator for its paths; duplicate keys and aliases bombs are errors. */
function parseYaml(text: string, file: string): { raw: unknown; loc: Locator } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  checkShape(doc, lines, file);
  if (doc.errors.length) {
    throw new InputError(doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, field: '(yaml)', message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') };
    }));
  }
  try {
    return { raw: doc.toJS({ maxAliasCount: 100 }), loc: new Locator(file, doc, lines) };
  } catch (err) {
    // Unresolved aliases, alias bombs: the YAML is well-formed but cannot become data.
    throw new InputError([{ file, line: 1, column: 1, field: '(yaml)', message: (err as Error).message }]);
  }
}
