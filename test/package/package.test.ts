/**
 * The package as a user gets it: `npm pack`'s tarball (which builds dist/ through `prepare`) and
 * the package folder, each installed into a fresh plain Node ESM project outside the repository,
 * which imports it (`import * as sw from "stepwise"`), type-checks against its declarations,
 * trains a tiny model with it (gradients included) and runs its `stepwise` command.
 * The tarball install takes its dependencies from the npm registry (or npm's cache): no overrides
 * apply there, so it also proves that every dependency resolves as published.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

const USE = `import * as sw from "stepwise";
const spec = \`experiment "pkg"
seed 1
backend cpu
model gpt { layers 1, width 16, heads 2, context 40 }
task arithmetic { operands 2..2, values 1..5, operators "+" }
reward c = outcome
use grpo
train { sft { steps 3, batch 4, lr 0.003 } }
eval { prompts 2, max_tokens 8 }
\`;
const { plan, diagnostics } = sw.compile(spec);
if (!plan) throw new Error(JSON.stringify(diagnostics));
const result = await sw.runPlan(plan, { out: process.argv[2] });
console.log(JSON.stringify({ status: result.status, compile: typeof sw.compile, check: sw.check("reward r = logratoi\\n").map((d) => d.message) }));
`;

// A typed use: a wrong argument type must be an error (so the package is not typed \`any\`).
const TYPED = `import * as sw from "stepwise";
const r: sw.CompileResult = sw.compile("seed 1\\n");
export const n: number = r.diagnostics.length;
// @ts-expect-error: compile takes the spec's text
sw.compile(42);
`;

function project(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `stepwise-${name}-`));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `consumer-${name}`, version: "1.0.0", type: "module", private: true }));
  writeFileSync(join(dir, "use.mjs"), USE);
  writeFileSync(join(dir, "typed.ts"), TYPED);
  return dir;
}

function npmInstall(dir: string, what: string): void {
  execFileSync(npm, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", what], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function checkProject(dir: string): void {
  // 1) imported from plain Node (no tsx): compiles a spec, trains 3 SFT steps, writes its run
  const out = execFileSync(process.execPath, ["use.mjs", join(dir, "runs")], { cwd: dir, encoding: "utf8" });
  const line = JSON.parse(out.trim().split("\n").at(-1)!) as { status: string; compile: string; check: string[] };
  assert.deepEqual(line, { status: "finished", compile: "function", check: ["unknown name `logratoi`"] });
  const metrics = readFileSync(join(dir, "runs", "pkg", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  const losses = metrics.filter((m) => m.stage === "sft" && typeof m.loss === "number").map((m) => m.loss as number);
  assert.ok(losses.length > 0 && losses.every(Number.isFinite), JSON.stringify(metrics));
  // 2) typed: strict tsc, NodeNext resolution, against the package's declarations
  execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck",
    "--types", "node", "--typeRoots", join(repo, "node_modules", "@types"), "typed.ts"], { cwd: dir, stdio: "pipe" });
  // 3) the command
  const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version as string;
  assert.equal(execFileSync(join(dir, "node_modules", ".bin", "stepwise"), ["--version"], { encoding: "utf8" }), `stepwise ${version}\n`);
}

test("npm pack's tarball installs into a plain Node project, imports typed, trains, runs its command", { timeout: 600_000 }, () => {
  const packDir = mkdtempSync(join(tmpdir(), "stepwise-pack-"));
  execFileSync(npm, ["pack", "--loglevel=error", "--pack-destination", packDir], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });
  const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"));
  assert.ok(tarball, "npm pack wrote no tarball");
  const dir = project("tarball");
  try {
    npmInstall(dir, join(packDir, tarball));
    // what the tarball holds: compiled code and its declarations, no TypeScript sources or tests
    const pkg = join(dir, "node_modules", "stepwise");
    assert.ok(existsSync(join(pkg, "dist", "src", "index.js")) && existsSync(join(pkg, "dist", "src", "index.d.ts")));
    assert.ok(!existsSync(join(pkg, "src")) && !existsSync(join(pkg, "test")));
    checkProject(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(packDir, { recursive: true, force: true });
  }
});

test("the package folder installs into a plain Node project the same way", { timeout: 300_000 }, () => {
  assert.ok(existsSync(join(repo, "dist", "src", "index.js")), "dist/ is built by npm install (prepare) or npm run build");
  const dir = project("folder");
  try {
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    npmInstall(dir, repo);
    checkProject(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
