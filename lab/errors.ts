// Exit statuses are part of the CLI contract: 0 all checks hold, 1 a check failed,
// 2 bad input or usage, 3 no runner can serve here, 4 the run broke (infrastructure).
export const EXIT = { ok: 0, failed: 1, usage: 2, noRunner: 3, infra: 4 } as const;

export class LabError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'LabError';
    this.exitCode = exitCode;
  }
}

/** One problem in a topology file, located for a human: file:line, the field, what was wrong. */
export interface InputIssue {
  file: string;
  line: number;
  column: number;
  field: string; // JSON-pointer-like path, e.g. cluster.pods[3].ip
  message: string;
}

export class InputError extends LabError {
  readonly issues: InputIssue[];
  constructor(issues: InputIssue[]) {
    super(issues.map(formatIssue).join('\n'), 2);
    this.name = 'InputError';
    this.issues = issues;
  }
}

export function formatIssue(i: InputIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.field}: ${i.message}`;
}

export class NoRunnerError extends LabError {
  constructor(message: string) {
    super(message, 3);
    this.name = 'NoRunnerError';
  }
}

export class InfraError extends LabError {
  constructor(message: string) {
    super(message, 4);
    this.name = 'InfraError';
  }
}

/** The state folder is not safely this user's (exit 3: the lab cannot serve here as things are). */
export class StateError extends LabError {
  constructor(message: string) {
    super(message, 3);
    this.name = 'StateError';
  }
}
