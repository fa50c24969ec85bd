/**
 * The parts of chevrotain the grammar uses, loaded from the single-file build that the chevrotain
 * package ships (lib/chevrotain.mjs). Its package entry (lib/src/api.js) imports several hundred
 * lodash-es modules: 0.8–1.4 s to import on a 2-core machine, most of `stepwise check`'s start;
 * the single file takes about 50 ms. The package's `exports` hide that file, so it is found next
 * to the entry that `require.resolve` gives. Same code, same version; types from "chevrotain".
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type Chevrotain = typeof import("chevrotain");

const entry = createRequire(import.meta.url).resolve("chevrotain"); // …/chevrotain/lib/src/api.js
const chevrotain = (await import(pathToFileURL(join(dirname(entry), "..", "chevrotain.mjs")).href)) as Chevrotain;

export const { createToken, Lexer, CstParser } = chevrotain;
