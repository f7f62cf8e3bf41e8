// A program run on a real pseudo-terminal for tests: util-linux script(1) makes the pty
// (`-q` quiet, `-f` flush, `-e` its child's status, `-c` the command); this side writes keys to
// script's stdin and reads what the terminal shows. No native module needed.
import { spawn, type ChildProcess } from 'node:child_process';

const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;

export class Terminal {
  readonly child: ChildProcess;
  shown = '';
  private mark = 0;
  readonly done: Promise<number | null>;

  constructor(argv: string[]) {
    this.child = spawn('script', ['-qfec', argv.map(quote).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' } });
    this.child.stdout!.on('data', (d: Buffer) => { this.shown += d.toString(); });
    this.child.stderr!.on('data', (d: Buffer) => { this.shown += d.toString(); });
    this.done = new Promise((resolve) => this.child.on('close', (c) => resolve(c)));
  }

  /** Types keys (Enter is \r, as a terminal sends it). */
  type(keys: string): void {
    this.child.stdin!.write(keys);
  }

  /** Waits until what is shown since the last wait matches; returns that part. */
  async until(re: RegExp, ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const part = this.shown.slice(this.mark);
      const m = re.exec(part);
      if (m) {
        this.mark += m.index + m[0].length;
        return part.slice(0, m.index + m[0].length);
      }
      if (Date.now() > end) throw new Error(`terminal did not show ${re} within ${ms} ms; it shows:\n${part}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends script and its program (test clean-up). */
  close(): void {
    this.child.stdin!.end();
    this.child.kill('SIGHUP');
  }
}
