// A run's report kept for the pictures: `lab scenario` writes the last run of each id to
// <state dir>/reports/<id>.json (and `--save FILE` anywhere); `lab diagram ID` draws from it, so a
// picture shows the run the user just read, not a new run that may pick another backend.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, LabError } from '../errors.ts';
import type { ScenarioReport } from '../run.ts';
import { stateRoot } from '../runners/job.ts';
import { REPORTS_DIR } from '../state/labs.ts';

export const SAVED_FORMAT = 'datapath-lab/report@1';

const reportsDir = () => path.join(stateRoot(), REPORTS_DIR);
export const savedPath = (id: string) => path.join(reportsDir(), `${id}.json`);

/** The report as JSON (the plan's feature set as a list; no job directory). */
export function reportDocument(r: ScenarioReport): string {
  const doc = { format: SAVED_FORMAT, savedAt: new Date().toISOString(), ...r, jobDir: undefined, plan: r.plan ? { ...r.plan, features: [...r.plan.features], steps: [], files: {} } : undefined };
  return JSON.stringify(doc, null, 1) + '\n';
}

/** Keeps the last run of this id (written atomically: a reader never sees half a file). */
export function saveReport(r: ScenarioReport, file = savedPath(r.id)): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, reportDocument(r));
  renameSync(tmp, file);
  return file;
}

/** A saved report, from a file or the last run of an id; undefined when there is none. */
export function loadReport(from: { id?: string; file?: string }): ScenarioReport | undefined {
  const file = from.file ?? (from.id ? savedPath(from.id) : undefined);
  if (!file || !existsSync(file)) {
    if (from.file) throw new LabError(`${from.file}: no such report file`, EXIT.usage);
    return undefined;
  }
  let doc: { format?: string; plan?: { features: unknown } };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LabError(`${file}: not a JSON report (${(e as Error).message})`, EXIT.usage);
  }
  if (doc.format !== SAVED_FORMAT) throw new LabError(`${file}: format ${JSON.stringify(doc.format ?? null)}, expected "${SAVED_FORMAT}" (written by \`lab scenario\`, or \`lab scenario ID --save FILE\`)`, EXIT.usage);
  if (doc.plan) doc.plan.features = new Set(doc.plan.features as string[]);
  return doc as unknown as ScenarioReport;
}
