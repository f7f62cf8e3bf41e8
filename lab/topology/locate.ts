// Where a problem is: a YAML path → file:line:column (yaml's LineCounter), the field name a
// person reads (`cluster.pods[0].ip`), and JSON pointers (ajv's) → paths.
import { isNode, type Document, type LineCounter } from 'yaml';
import type { InputIssue } from '../errors.ts';
import type { PathSeg } from '../families/types.ts';

export class Locator {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }
  /** Position of the deepest YAML node that exists along `p`. */
  at(p: PathSeg[]): { line: number; column: number } {
    for (let n = p.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(p.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  }
  issue(p: PathSeg[], message: string): InputIssue {
    return { file: this.file, ...this.at(p), field: fieldName(p), message };
  }
}

function fieldName(p: PathSeg[]): string {
  let s = '';
  for (const seg of p) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || '(document)';
}

export function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer.split('/').slice(1).map((s) => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(u) ? Number(u) : u;
  });
}

export function valueAt(obj: unknown, p: PathSeg[]): unknown {
  let cur: unknown = obj;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
