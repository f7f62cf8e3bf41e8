// Evidence: the agent's BIRD dump of a router (`birdc show protocols all`, then a
// "# show route all" line and `birdc show route all`). The protocol and route parsers live with
// the BGP configuration they read back (lab/families/calico/bgp/); these split the dump and quote it.

export function birdSections(text: string): { protocols: string; routes: string } {
  const i = text.indexOf('# show route all');
  return i < 0 ? { protocols: text, routes: '' } : { protocols: text.slice(0, i), routes: text.slice(i + '# show route all'.length) };
}

/** The route block (header and detail lines) BIRD printed for `prefix`. */
export function birdRouteLines(text: string, prefix: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    // Header lines start in column 0; details and further routes for the same prefix are indented.
    if (/^\S/.test(line)) inBlock = line.startsWith(`${prefix} `);
    if (inBlock && line.trim()) out.push(line.replace(/\t/g, '  ').trimEnd());
  }
  return out;
}
