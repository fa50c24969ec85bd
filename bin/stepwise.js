#!/usr/bin/env node
// Entry point of the `stepwise` command: the compiled CLI (dist/, made by `npm run build`, which
// `npm install` runs in a clone through `prepare`). From the sources: `npm run stepwise -- …`.
import { existsSync } from "node:fs";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("stepwise: the package is not built (no dist/); run `npm run build` in its folder\n");
  process.exit(1);
}
await import(main.href);
