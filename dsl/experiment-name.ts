/**
 * What an experiment may be called: its name is the run directory's name under the runs root
 * (`runs/<name>`), so it must be one path segment that cannot climb out of it. Read by the
 * compiler (a positioned diagnostic in `stepwise check`) and by the runner (a plan built by hand).
 */

/** Letters, digits, `-`, `_`, `.`; starting with a letter or digit (so no `.`, `..` or hidden name); at most 100. */
export const EXPERIMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Why `name` cannot be an experiment name, or null when it can. */
export function experimentNameProblem(name: string): string | null {
  if (EXPERIMENT_NAME.test(name) && !name.includes("..")) return null;
  if (name === "") return "the experiment name is empty";
  if (/[\\/]/.test(name) || name.includes("..")) return `experiment name ${JSON.stringify(name)} is a path: it names the run directory runs/<name>, so it must be one path segment`;
  if (name.length > 100) return `experiment name is ${name.length} characters long; at most 100`;
  return `experiment name ${JSON.stringify(name)} has characters a directory name should not: use letters, digits, "-", "_" and "." (starting with a letter or digit)`;
}
