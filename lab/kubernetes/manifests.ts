/**
 * Kubernetes objects as `kubectl get -o yaml|json` prints them: a v1 List, a multi-document YAML
 * stream, or single objects — JSON is read as YAML's flow style, so both keep their line positions.
 * Each object carries a locator that turns a field path into "file:line:col" for error messages
 * (the `yaml` package's node ranges through a LineCounter). Pure apart from reading the file.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { InputError, type InputIssue } from '../errors.ts';

export type FieldPath = readonly (string | number)[];

export interface KubeObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  /** The object as plain data (validated field by field by objects.ts). */
  raw: Record<string, unknown>;
  file: string;
  /** Where a field is (or, when absent, where its nearest present parent is). */
  at(path: FieldPath): { line: number; column: number };
  /** An InputIssue for a field of this object: "file:line:col: Kind ns/name .field: message". */
  issue(path: FieldPath, message: string): InputIssue;
}

function nodeAt(root: YamlNode, path: FieldPath): YamlNode {
  let cur: YamlNode = root;
  for (const key of path) {
    if (isMap(cur) || isSeq(cur)) {
      const next = cur.get(key, true) as unknown;
      if (next && typeof next === 'object' && 'range' in (next as object)) {
        cur = next as YamlNode;
        continue;
      }
    }
    break;
  }
  return cur;
}

function fieldName(kind: string, namespace: string, name: string, path: FieldPath): string {
  const id = namespace ? `${namespace}/${name}` : name;
  const p = path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  return `${kind} ${id}${p}`;
}

function toObject(node: YamlNode, file: string, lc: LineCounter): KubeObject | InputIssue {
  const where = (n: YamlNode) => {
    const pos = lc.linePos(n.range?.[0] ?? 0);
    return { line: pos.line, column: pos.col };
  };
  const raw = node.toJSON() as unknown;
  if (!isMap(node) || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { file, ...where(node), field: '(object)', message: 'expected a Kubernetes object (a mapping with apiVersion, kind, metadata)' };
  }
  const o = raw as Record<string, unknown>;
  const meta = (o['metadata'] ?? {}) as Record<string, unknown>;
  const kind = typeof o['kind'] === 'string' ? o['kind'] : '';
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : '';
  if (!kind || typeof o['apiVersion'] !== 'string' || !name) {
    const missing = !kind ? 'kind' : typeof o['apiVersion'] !== 'string' ? 'apiVersion' : 'metadata.name';
    return { file, ...where(nodeAt(node, missing === 'metadata.name' ? ['metadata'] : [])), field: missing, message: `missing ${missing}` };
  }
  const obj: KubeObject = {
    apiVersion: o['apiVersion'] as string,
    kind,
    name,
    namespace,
    raw: o,
    file,
    at: (path) => where(nodeAt(node, path)),
    issue: (path, message) => ({ file, ...where(nodeAt(node, path)), field: fieldName(kind, namespace, name, path), message }),
  };
  return obj;
}

/** Every object of one manifest text (a List's items flattened). Bad YAML or a non-object → InputError. */
export function parseManifests(text: string, file: string): KubeObject[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  const issues: InputIssue[] = [];
  const out: KubeObject[] = [];
  const docList = Array.isArray(docs) ? docs : [docs];
  for (const doc of docList) {
    for (const e of doc.errors) {
      const pos = lc.linePos(e.pos[0]);
      issues.push({ file, line: pos.line, column: pos.col, field: '(yaml)', message: e.message.split('\n')[0]! });
    }
    const root = doc.contents;
    if (!root || (isScalar(root) && root.value === null)) continue;
    const rootJson = root.toJSON() as Record<string, unknown> | null;
    // kubectl prints several objects as `kind: List` (apiVersion v1) with items.
    const items = isMap(root) && rootJson && typeof rootJson === 'object' && rootJson['kind'] === 'List' ? root.get('items', true) : undefined;
    const nodes: YamlNode[] = items !== undefined ? (isSeq(items) ? (items.items as YamlNode[]) : []) : [root as YamlNode];
    for (const n of nodes) {
      const r = toObject(n, file, lc);
      if ('kind' in r) out.push(r);
      else issues.push(r);
    }
  }
  if (issues.length > 0) throw new InputError(issues);
  return out;
}

/** Reads and parses one manifest file (YAML or JSON). */
export function readManifests(file: string): KubeObject[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError([{ file, line: 1, column: 1, field: '(file)', message: `cannot read: ${(e as Error).message}` }]);
  }
  return parseManifests(text, file);
}
