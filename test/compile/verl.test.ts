/**
 * verl: the estimator of a `--target verl` package, imported from the real verl package (0.9.1)
 * through its registry and run by verl's own `compute_advantage` on a DataProto of rollouts whose
 * groups are interleaved, gives the advantages `stepwise advantage` gives on the same rollouts
 * (1e-6); padding stays 0 and verl's other estimators pass through unchanged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { assertSameAdvantages, compiledPackage, stepwiseAdvantages } from "./helpers.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";

const skip = pythonSkip();
const SPEC = path.join(ROOT, "test/fixtures/verl-tiny.sw");

test("verl's registered stepwise estimator equals stepwise advantage on the same rollouts", { skip, timeout: 240_000 }, async () => {
  const { dir, pkg } = await compiledPackage(SPEC, "verl");
  try {
    const out = JSON.parse(runPython([path.join(ROOT, "test/compile/verl_estimator.py"), pkg, path.join(ROOT, "test/fixtures/tiny-qwen2")], { timeoutMs: 200_000 })) as {
      registered: boolean; grpo_untouched: boolean; batch: unknown; advantages: number[][]; padding_zero: boolean;
    };
    assert.ok(out.registered, "get_adv_estimator_fn('stepwise') is the package's estimator");
    assert.ok(out.grpo_untouched, "verl's GRPO still computes its own advantages");
    assert.ok(out.padding_zero);
    const batch = path.join(dir, "batch.json");
    fs.writeFileSync(batch, JSON.stringify(out.batch));
    const want = await stepwiseAdvantages(SPEC, batch);
    assertSameAdvantages(want, out.advantages, "verl estimator", "verl");
    assert.ok(want.flat().some((v) => v !== 0));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
