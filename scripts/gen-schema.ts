// Writes the composed topology schema (core + every registered family's fragment) to
// schema/topology.schema.json, for editors (`# yaml-language-server: $schema=…`). The loader
// composes the same schema in memory (lab/topology/schema.ts); this file is generated, not kept.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { composeSchema } from '../lab/topology/schema.ts';

const out = path.join(import.meta.dirname, '..', 'schema', 'topology.schema.json');
const schema = { ...composeSchema(), $id: 'https://datapath-lab.dev/schema/topology.schema.json' };
writeFileSync(out, `${JSON.stringify(schema, null, 2)}\n`);
process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
