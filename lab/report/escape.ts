// Text that reaches a terminal or a line-oriented report (TAP) is made printable: control
// characters — ESC and the rest of C0, DEL, C1 — become visible escapes (`\x1b`), so that a title,
// a server's reply or a tool's message can neither drive the terminal nor forge report lines.
// The loader already refuses them in topology text (lab/topology/read.ts); this covers what comes
// from the run (server replies, tool output) and any caller that did not go through the loader.
// ECMA-48 §5 defines the C0 and C1 sets: https://ecma-international.org/publications-and-standards/standards/ecma-48/
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/g;

const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Control characters made visible; newlines and tabs kept (multi-line evidence stays readable). */
export function printable(s: string): string {
  return s.replace(CONTROL, hex);
}

/** For one-line fields (a TAP test line): newlines and tabs made visible too. */
export function oneLine(s: string): string {
  return s.replace(CONTROL_OR_NEWLINE, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : hex(c)));
}

/** Every string of a plain data structure made printable (arrays and plain objects are copied;
 *  anything else — Sets, Maps, class instances — is passed through as it is). */
export function printableDeep<T>(v: T): T {
  if (typeof v === 'string') return printable(v) as T;
  if (Array.isArray(v)) return v.map((x) => printableDeep(x)) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, printableDeep(x)])) as T;
  }
  return v;
}
