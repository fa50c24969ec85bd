/**
 * Where the Stepwise package is and how it runs: compiled (`dist/`, what `npm run build` makes and
 * `bin/stepwise.js` runs) or from its TypeScript sources under tsx (the tests, `npm run stepwise`).
 * The kernel and `stepwise kernel install` use this to start the same code that installed them.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** true in dist/src/package-info.js, false in src/package-info.ts */
export const COMPILED = import.meta.url.endsWith(".js");

/** The directory holding Stepwise's package.json (found upwards from this file). */
export const PACKAGE_ROOT: string = findRoot();

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "stepwise") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of stepwise above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A file of the package as it runs: `packageFile("src/index")` is dist/src/index.js compiled, src/index.ts from sources. */
export function packageFile(module: string): string {
  return COMPILED ? join(PACKAGE_ROOT, "dist", `${module}.js`) : join(PACKAGE_ROOT, `${module}.ts`);
}

/** @example packageVersion() // "0.1.0" */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}
