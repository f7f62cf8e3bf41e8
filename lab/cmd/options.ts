// Options several verbs share, built once so their text and choices stay the same everywhere.
import { Option } from 'commander';
import type { RunnerName } from '../runners/types.ts';

export type RunnerChoice = RunnerName | 'auto';

export const runnerOption = (): Option =>
  new Option('--runner <runner>', 'where to build: native (host kernel, root), uml (User-Mode Linux, no root), docker (a container on the host kernel), auto').choices(['native', 'uml', 'docker', 'auto']).default('auto');

export const fileOption = (description = 'a topology file of your own'): Option => new Option('-f, --file <topology>', description);

export const labOption = (which = 'the only one up'): Option => new Option('--lab <labid>', `which lab (default: ${which})`);
