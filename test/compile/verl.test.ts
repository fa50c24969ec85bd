/**
 * verl: the estimator of a `--target verl` package, imported from the real verl package (0.9.1)
 * through its registry and run by verl's own `compute_advantage` on a DataProto of rollouts whose
 * groups are interleaved, gives the advantages `stepwise advantage` gives on the same rollouts
 * (1e-6); padding stays 0 and verl's other estimators pass through unchanged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compileCommand } from "../../src/compile/index.js";
import { runAdvantageCommand } from "../../src/rl/advantage-command.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";

const skip = pythonSkip();
const SPEC = path.join(ROOT, "test/fixtures/verl-tiny.sw");

test("verl's registered stepwise estimator equals stepwise advantage on the same rollouts", { skip, timeout: 240_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-verl-"));
  try {
    const pkg = path.join(dir, "pkg");
    const c = await compileCommand(SPEC, { target: "verl", out: pkg });
    assert.equal(c.exitCode, 0, c.stderr);
    const out = JSON.parse(runPython([path.join(ROOT, "test/compile/verl_estimator.py"), pkg, path.join(ROOT, "test/fixtures/tiny-qwen2")], { timeoutMs: 200_000 })) as {
      registered: boolean; grpo_untouched: boolean; batch: unknown; advantages: number[][]; padding_zero: boolean;
    };
    assert.ok(out.registered, "get_adv_estimator_fn('stepwise') is the package's estimator");
    assert.ok(out.grpo_untouched, "verl's GRPO still computes its own advantages");
    assert.ok(out.padding_zero);
    const batch = path.join(dir, "batch.json");
    fs.writeFileSync(batch, JSON.stringify(out.batch));
    const r = await runAdvantageCommand(SPEC, batch);
    assert.equal(r.exitCode, 0, r.stderr);
    const want = (JSON.parse(r.stdout) as { advantages: number[][] }).advantages;
    assert.equal(out.advantages.length, want.length);
    want.forEach((row, i) => {
      assert.equal(out.advantages[i]!.length, row.length, `response ${i}`);
      row.forEach((v, t) => assert.ok(Math.abs(v - out.advantages[i]![t]!) <= 1e-6, `response ${i} token ${t}: stepwise ${v}, verl ${out.advantages[i]![t]}`));
    });
    assert.ok(want.flat().some((v) => v !== 0));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
