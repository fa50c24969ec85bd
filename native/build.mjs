#!/usr/bin/env node
/**
 * Builds Stepwise's optional native addon (native/stepwise_native.c -> native/build/stepwise_native.node)
 * with the C compiler and Node's own headers: no node-gyp, no download, no BLAS headers (the BLAS
 * is opened at run time). Runs as npm's `install` script and as `npm run build:native`.
 *
 * Never fails the install: without a compiler or headers it prints why and exits 0, and Stepwise
 * runs on the plain wasm path. `--strict` exits 1 instead (CI, to see a broken build).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = path.dirname(fileURLToPath(import.meta.url));
const strict = process.argv.includes("--strict");
const out = path.join(here, "build", "stepwise_native.node");

function give_up(why) {
  console.log(`stepwise: native addon not built (${why}); Stepwise runs on the wasm path. See docs/benchmarks.md for the fast path.`);
  process.exit(strict ? 1 : 0);
}

if (process.env.STEPWISE_NATIVE === "0") give_up("STEPWISE_NATIVE=0");
if (process.platform !== "linux" && process.platform !== "darwin") give_up(`platform ${process.platform}`);

// Node-API headers: next to this node binary, the system's, or the node-api-headers package
const headerDirs = [path.join(path.dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"];
try {
  headerDirs.push(path.join(path.dirname(createRequire(import.meta.url).resolve("node-api-headers/package.json")), "include"));
} catch { /* optional package, not installed */ }
const include = headerDirs.find((d) => existsSync(path.join(d, "node_api.h")));
if (!include) give_up(`no node_api.h in ${headerDirs.join(", ")}`);

const cc = [process.env.CC, "cc", "gcc", "clang"].find((c) => c && spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0);
if (!cc) give_up("no C compiler (cc, gcc or clang): apt-get install build-essential");

mkdirSync(path.dirname(out), { recursive: true });
const args = [
  "-O3", "-ffp-contract=fast", "-fPIC", "-shared", "-std=c11", "-Wall", "-DNODE_GYP_MODULE_NAME=stepwise_native",
  `-I${include}`, path.join(here, "stepwise_native.c"), path.join(here, "kernels.c"), "-o", out, "-ldl", "-lpthread", "-lm",
  ...(process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : []),
];
// -march=native: the addon is built on the machine that runs it (npm install), so the kernels
// may use its vector units; a compiler that refuses the flag builds for the baseline instead.
// STEPWISE_NATIVE_PORTABLE=1 always builds for the baseline (an image built here, run elsewhere).
let r = process.env.STEPWISE_NATIVE_PORTABLE === "1" ? { status: 1 } : spawnSync(cc, ["-march=native", ...args], { encoding: "utf8" });
if (r.status !== 0) r = spawnSync(cc, args, { encoding: "utf8" });
if (r.status !== 0) give_up(`${cc} failed: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(0, 3).join(" | ")}`);
console.log(`stepwise: built ${path.relative(process.cwd(), out)} (${cc}, headers ${include})`);
