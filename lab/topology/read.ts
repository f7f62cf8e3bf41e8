// Reading a topology file as hostile input: a bounded read of a regular file, then bounds on the
// YAML's shape — nesting depth, alias expansion, keys made through aliases, control characters
// in any text (titles, stories: they would reach terminals and TAP raw) — before anything walks
// it recursively. Every refusal is an InputError (exit 2) located at file:line.
//
// Why each bound: a FIFO or /dev/zero would block or grow without end; a 50 MB file took 4.3 GB
// to parse; 3000 nested levels overflow the parser's stack; a key written as an alias (`*k: v`)
// escapes the parser's uniqueKeys check and silently overwrites the key it duplicates; YAML's
// "billion laughs" expands aliases exponentially (the yaml package bounds it with maxAliasCount,
// https://eemeli.org/yaml/#tojs-options).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isAlias, isCollection, isMap, isPair, isScalar, type Document, type LineCounter, type Node } from 'yaml';
import { InputError, type InputIssue } from '../errors.ts';

export const MAX_TOPOLOGY_BYTES = 1024 * 1024;
export const MAX_DEPTH = 64;
export const MAX_ALIAS_COUNT = 100;
/** C0 controls but TAB and newline, DEL, C1 controls (ESC starts terminal escape sequences). */
// eslint-disable-next-line no-control-regex
const ONE_LINE = new Set(['title', 'id', 'name']);
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

const issue = (file: string, line: number, column: number, message: string): InputIssue => ({ file, line, column, field: '(file)', message });

/** The text of a topology file: a regular file of at most 1 MiB, read without blocking. */
export function readTopologyText(file: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO nobody writes to must not hang; fstat then refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new InputError([issue(file, 0, 0, `cannot read: ${(err as Error).message}`)]);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError([issue(file, 0, 0, `not a regular file (a ${kindOf(st)}): a topology is a YAML file`)]);
    if (st.size > MAX_TOPOLOGY_BYTES) throw new InputError([issue(file, 0, 0, `${st.size} bytes: a topology file may have at most ${MAX_TOPOLOGY_BYTES} (1 MiB)`)]);
    // Read at most one byte more than allowed: a file that grows meanwhile is still bounded.
    const buf = Buffer.alloc(MAX_TOPOLOGY_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > MAX_TOPOLOGY_BYTES) throw new InputError([issue(file, 0, 0, `more than ${MAX_TOPOLOGY_BYTES} bytes (1 MiB): too large for a topology`)]);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: import('node:fs').Stats): string {
  return st.isFIFO() ? 'FIFO' : st.isCharacterDevice() ? 'character device' : st.isBlockDevice() ? 'block device' : st.isSocket() ? 'socket' : st.isDirectory() ? 'directory' : 'special file';
}

/**
 * Shape bounds on a parsed document, walked without recursion: at most MAX_DEPTH levels, no key
 * that is an alias or a merge (`<<`), which could repeat a key the parser's uniqueKeys check
 * cannot see. A parser that ran out of stack is reported as too deep.
 */
export function checkShape(doc: Document, lines: LineCounter, file: string): void {
  const at = (n: { range?: [number, number, number] | null } | null | undefined, message: string): InputIssue => {
    const pos = lines.linePos(n?.range?.[0] ?? 0);
    return { file, line: pos.line, column: pos.col, field: '(yaml)', message };
  };
  if (doc.errors.some((e) => /call stack/i.test(e.message))) throw new InputError([at(null, `nested too deeply: at most ${MAX_DEPTH} levels`)]);
  const issues: InputIssue[] = [];
  const stack: [Node | null | undefined, number][] = [[doc.contents as Node | null, 1]];
  while (stack.length && issues.length < 20) {
    const [node, depth] = stack.pop()!;
    if (isScalar(node) && typeof node.value === 'string' && CONTROL.test(node.value)) {
      issues.push(at(node, `text with a control character (${JSON.stringify(CONTROL.exec(node.value)![0])}): it would reach terminals, TAP and JUnit raw`));
      continue;
    }
    if (!node || isScalar(node) || isAlias(node)) continue;
    if (depth > MAX_DEPTH) {
      issues.push(at(node, `nested too deeply: at most ${MAX_DEPTH} levels`));
      break;
    }
    if (!isCollection(node)) continue;
    for (const item of node.items) {
      if (isPair(item)) {
        const k = item.key as Node | null;
        if (isAlias(k)) issues.push(at(k, 'a key may not be an alias (*name): it could repeat another key unseen'));
        else if (isMap(node) && isScalar(k) && k.value === '<<') issues.push(at(k, 'merge keys (<<) are not supported: write the fields out'));
        else if (isScalar(k) && ONE_LINE.has(String(k.value)) && isScalar(item.value) && /[\r\n]/.test(String(item.value.value))) issues.push(at(item.value as Node, `${String(k.value)} must be one line (a newline would add lines to TAP and terminal reports)`));
        stack.push([item.value as Node | null, depth + 1]);
      } else stack.push([item as Node | null, depth + 1]);
    }
  }
  if (issues.length) throw new InputError(issues);
}
