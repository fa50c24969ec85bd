/** Rewrites the settings tables of dsl/README.md from the one settings schema (dsl/settings.ts). */
import { readFileSync, writeFileSync } from "node:fs";
import { renderSettingsTables } from "../dsl/settings.js";

const file = new URL("../dsl/README.md", import.meta.url);
const md = readFileSync(file, "utf8");
const out = renderSettingsTables(md);
if (out !== md) writeFileSync(file, out);
console.log(out === md ? "dsl/README.md: settings tables up to date" : "dsl/README.md: settings tables rewritten");
