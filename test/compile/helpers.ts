/** Shared by the engine tests: `stepwise advantage` on a batch file, compared with another engine's advantages. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compileCommand, type Target } from "../../src/compile/index.js";
import { runAdvantageCommand } from "../../src/rl/advantage-command.js";

/** `stepwise compile SPEC --target T` into a new temporary folder; the caller removes `dir`. */
export async function compiledPackage(spec: string, target: Target): Promise<{ dir: string; pkg: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stepwise-${target}-`));
  const pkg = path.join(dir, "pkg");
  const c = await compileCommand(spec, { target, out: pkg });
  assert.equal(c.exitCode, 0, c.stderr);
  return { dir, pkg };
}

/** 1e-6, relative above magnitude 1: float32 (both engines' precision) spaces values near 17 by 1.9e-6. */
export const TOL = 1e-6;
export const within = (a: number, b: number): boolean => Math.abs(a - b) <= TOL * Math.max(1, Math.abs(a));

/** Asserts that `got` (per response, per token) equals `want` within TOL, naming the first place that differs. */
export function assertSameAdvantages(want: number[][], got: number[][], where: string, engine: string): void {
  assert.equal(got.length, want.length, `${where}: responses`);
  want.forEach((row, i) => {
    assert.equal(got[i]!.length, row.length, `${where}: response ${i} tokens`);
    row.forEach((v, t) => {
      if (!within(v, got[i]![t]!)) assert.fail(`${where}: response ${i} token ${t}: stepwise ${v}, ${engine} ${got[i]![t]} (|d| = ${Math.abs(v - got[i]![t]!)})`);
    });
  });
}

/** What `stepwise advantage SPEC --batch BATCH` prints, parsed (fails the test on a non-zero exit). */
export async function stepwiseAdvantages(spec: string, batch: string): Promise<number[][]> {
  const r = await runAdvantageCommand(spec, batch);
  assert.equal(r.exitCode, 0, r.stderr);
  return (JSON.parse(r.stdout) as { advantages: number[][] }).advantages;
}
