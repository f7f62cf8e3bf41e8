// The labs of this user: one folder per lab, <state>/job-<labid>, holding the job the agent
// reads, its evidence (out/), the journal (journal.ts) and a small record (lab.json) saying what
// the lab is for. A folder is found by its name; everything in it is validated before use.
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InfraError } from '../errors.ts';
import { ensureStateDir, existingStateDir } from './dir.ts';
import { appendJournal, labDir, LAB_ID_RE, procFields, readJournal, type Journal } from './journal.ts';
import { selfRecord } from './proc.ts';

export const RECORD = 'lab.json';

/** What a lab is for: written when it is made, read by status, exec, shell, down. */
export interface LabRecord {
  labId: string;
  scenario: string;
  file: string;
  mode: 'run' | 'up';
  createdAt: string;
  objects: { object: string; kind: string; ns: string }[];
}

/**
 * Makes the lab's folder (0700, never an existing one) and starts its journal with the lab
 * line and the owning command. When the journal cannot be written the folder is removed and
 * nothing is built (InfraError, exit 4).
 */
export function createLab(labId: string): string {
  const dir = labDir(ensureStateDir(), labId);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    throw new InfraError(`cannot create the lab folder ${dir}: ${(e as Error).message}`);
  }
  try {
    appendJournal(dir, [['lab', labId], ['owner', ...procFields(selfRecord())]]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export function writeRecord(dir: string, r: LabRecord): void {
  try {
    writeFileSync(path.join(dir, RECORD), JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new InfraError(`cannot write the lab record in ${dir}: ${(e as Error).message}`);
  }
}

/** The record of a lab, validated; a string says why it cannot be used. */
export function readRecord(dir: string, labId: string): LabRecord | string {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path.join(dir, RECORD), 'utf8'));
  } catch (e) {
    return `no usable ${RECORD}: ${(e as Error).message}`;
  }
  const r = j as Partial<LabRecord>;
  const str = (v: unknown) => typeof v === 'string' && v.length < 4096;
  if (!r || typeof r !== 'object' || r.labId !== labId || !str(r.scenario) || !str(r.file) || (r.mode !== 'run' && r.mode !== 'up') || !str(r.createdAt) || !Array.isArray(r.objects)) {
    return `${RECORD} is malformed`;
  }
  const nsRe = new RegExp(`^dl-${labId}-[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`);
  for (const o of r.objects) {
    if (!o || !str(o.object) || !str(o.kind) || typeof o.ns !== 'string' || !nsRe.test(o.ns)) return `${RECORD} names an object outside the lab: ${JSON.stringify(o).slice(0, 120)}`;
  }
  return r as LabRecord;
}

export interface LabEntry {
  labId: string;
  dir: string;
  journal: Journal;
  record?: LabRecord;
  /** Why the record could not be read (labs made by `lab scenario` have none until written). */
  recordProblem?: string;
}

/** The folder of saved reports in the state folder (lab/report/saved.ts). */
export const REPORTS_DIR = 'reports';

/** Every lab folder of this user; names that are not lab folders are reported in `strays`. */
export function listLabDirs(): { labs: LabEntry[]; strays: string[] } {
  const root = existingStateDir();
  if (!root) return { labs: [], strays: [] };
  const labs: LabEntry[] = [];
  const strays: string[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name === REPORTS_DIR) continue; // the last run of each scenario (lab/report/saved.ts), not a lab
    const m = /^job-(.*)$/.exec(name);
    if (!m || !LAB_ID_RE.test(m[1]!)) {
      strays.push(name);
      continue;
    }
    const labId = m[1]!;
    const dir = labDir(root, labId);
    if (!lstatSync(dir).isDirectory()) {
      strays.push(name);
      continue;
    }
    labs.push(loadLab(dir, labId));
  }
  return { labs, strays };
}

export function loadLab(dir: string, labId: string): LabEntry {
  const journal = readJournal(dir, labId);
  const rec = readRecord(dir, labId);
  return typeof rec === 'string' ? { labId, dir, journal, recordProblem: rec } : { labId, dir, journal, record: rec };
}

/** One lab by id, or undefined when this user has no such lab. */
export function findLab(labId: string): LabEntry | undefined {
  const root = existingStateDir();
  if (!root || !LAB_ID_RE.test(labId)) return undefined;
  const dir = labDir(root, labId);
  try {
    if (!lstatSync(dir).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return loadLab(dir, labId);
}

/** Removes a lab's folder: the path is derived from the id, and must be a real directory. */
export function removeLabDir(labId: string): boolean {
  const root = existingStateDir();
  if (!root) return false;
  const dir = labDir(root, labId);
  try {
    if (!lstatSync(dir).isDirectory()) return false;
  } catch {
    return false;
  }
  rmSync(dir, { recursive: true, force: true });
  return true;
}
