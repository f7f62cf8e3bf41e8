// The topology schema: the core (schema/core.schema.json) with each registered family's
// fragment (lab/families/<kind>/index.ts) merged in at its extension points, compiled once by
// ajv; ajv's errors become located issues that say the field, the value and what was expected.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isDeepStrictEqual } from 'node:util';
import type { InputIssue } from '../errors.ts';
import { FAMILIES } from '../families/registry.ts';
import type { Family, JsonSchema, SchemaFragment } from '../families/types.ts';
import { pointerToPath, valueAt, type Locator } from './locate.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CORE_SCHEMA_PATH = path.resolve(here, '../../schema/core.schema.json');

/** Where each kind of fragment goes in the core schema (property maps). */
const EXTENSION_POINTS: Record<keyof SchemaFragment, string[]> = {
  datapath: ['definitions', 'datapath', 'properties'],
  cluster: ['definitions', 'cluster', 'properties'],
  node: ['definitions', 'cluster', 'properties', 'nodes', 'items', 'properties'],
  eni: ['definitions', 'cluster', 'properties', 'nodes', 'items', 'properties', 'enis', 'items', 'properties'],
  pod: ['definitions', 'cluster', 'properties', 'pods', 'items', 'properties'],
};

function at(schema: JsonSchema, p: string[]): Record<string, JsonSchema> {
  let cur: unknown = schema;
  for (const k of p) cur = (cur as Record<string, unknown>)[k];
  if (!cur || typeof cur !== 'object') throw new Error(`core schema has no ${p.join('/')}`);
  return cur as Record<string, JsonSchema>;
}

/** The full topology schema for these families (pure: the core is read, never written). */
export function composeSchema(families: Family[] = FAMILIES): JsonSchema {
  const schema = JSON.parse(readFileSync(CORE_SCHEMA_PATH, 'utf8')) as JsonSchema;
  at(schema, ['definitions', 'datapath', 'properties']).kind = { enum: families.map((f) => f.kind) };
  for (const f of families) {
    for (const [point, props] of Object.entries(f.schema) as [keyof SchemaFragment, Record<string, JsonSchema>][]) {
      const target = at(schema, EXTENSION_POINTS[point]);
      for (const [name, s] of Object.entries(props)) {
        if (target[name] && !isDeepStrictEqual(target[name], s)) throw new Error(`family ${f.kind}: field ${point}.${name} is already declared differently`);
        target[name] = s;
      }
    }
  }
  return schema;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
let validator: ReturnType<Ajv['compile']> | undefined;
function schemaValidator(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    validator = ajv.compile(composeSchema());
  }
  return validator;
}

/** Schema problems of `raw`, most specific per location; [] when it is valid. */
export function schemaIssues(raw: unknown, loc: Locator): InputIssue[] {
  const validate = schemaValidator();
  if (validate(raw)) return [];
  // Keep the most specific error per location (oneOf produces noise).
  const seen = new Set<string>();
  const issues: InputIssue[] = [];
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'oneOf' || e.keyword === 'if') continue;
    const p = pointerToPath(e.instancePath);
    if (e.keyword === 'additionalProperties') p.push((e.params as { additionalProperty: string }).additionalProperty);
    const value = e.keyword === 'required' || e.keyword === 'additionalProperties' ? undefined : valueAt(raw, p);
    const issue = loc.issue(p, describeAjvError(e, value));
    const key = `${issue.field}|${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

function describeAjvError(e: ErrorObject, value: unknown): string {
  const shown = JSON.stringify(value);
  const got = shown === undefined ? '' : ` (got ${shown.length > 60 ? shown.slice(0, 57) + '...' : shown})`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'const':
      return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}${got}`;
    case 'pattern':
    case 'format':
    case 'maxLength':
    case 'minLength': {
      const d = (e.parentSchema as { description?: string } | undefined)?.description;
      // A regex says little to a person: show the schema's description of the field instead.
      const what = e.keyword === 'pattern' && d ? 'is not valid' : e.message;
      return `${what}${got}${d ? ` — expected ${d}` : ''}`;
    }
    default:
      return `${e.message}${got}`;
  }
}
