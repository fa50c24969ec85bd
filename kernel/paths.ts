/** Where the kernel finds this repository, whatever the notebook's working directory. */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the folder of package.json "stepwise"). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
