/** The package's own package.json (found upwards from this file: src/cli/ under tsx, dist/src/cli/ when built). */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The directory holding Stepwise's package.json. @throws when there is none above this file */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "stepwise") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of stepwise above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** @example packageVersion() // "0.1.0" */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}
