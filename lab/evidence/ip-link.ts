// Evidence: parses `ip -d link show`: "13: cali1087c975dd9@if4: <…> … link-netns NAME".

export interface LinkLine {
  ifindex: number;
  name: string;
  peerIndex?: number;
  linkNetns?: string;
  raw: string;
}

export function parseIpLink(text: string): LinkLine[] {
  const out: LinkLine[] = [];
  let cur: LinkLine | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+): ([^:@\s]+)(?:@if(\d+)|@(\S+))?: /.exec(line);
    if (m) {
      cur = { ifindex: Number(m[1]), name: m[2]!, peerIndex: m[3] ? Number(m[3]) : undefined, raw: line.trim() };
      out.push(cur);
      continue;
    }
    const ns = /link-netns (\S+)/.exec(line);
    if (cur && ns) cur.linkNetns = ns[1];
  }
  return out;
}
