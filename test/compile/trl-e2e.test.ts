/**
 * End to end on the CPU: `stepwise compile --target trl` of test/fixtures/trl-tiny.sw, then the
 * exported TRL trainer runs 2 steps on the tiny random Qwen2 (test/fixtures/tiny-qwen2) with
 * --dump-rollouts; the rollouts and advantages it trained on, dumped in the batch format, equal
 * `stepwise advantage` of the same spec on the dump (1e-6). The spec reads declared rewards, the
 * reference model (logratio, nonzero at the second step), step lengths and a yes_no probe.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { assertSameAdvantages, compiledPackage, stepwiseAdvantages } from "./helpers.js";
import type { RolloutBatch } from "../../src/rl/batch.js";
import { pythonSkip, ROOT, runPython } from "../helpers/python.js";

const skip = pythonSkip();
const SPEC = path.join(ROOT, "test/fixtures/trl-tiny.sw");

test("the exported TRL trainer trains 2 steps; its dumped advantages equal stepwise advantage", { skip, timeout: 240_000 }, async () => {
  const { dir, pkg } = await compiledPackage(SPEC, "trl");
  try {
    const out = path.join(dir, "out");
    const log = runPython([path.join(pkg, "train_trl.py"), "--cpu", "--max-steps", "2", "--dump-rollouts", "--output-dir", out], { cwd: pkg, timeoutMs: 200_000, env: { OMP_NUM_THREADS: "2" } });
    assert.match(log, /train_runtime/);
    assert.ok(fs.existsSync(path.join(out, "model.safetensors")), "the trained model is saved");
    let sawLogratio = false;
    for (const step of [0, 1]) {
      const batchFile = path.join(out, "rollouts", `step-${step}.json`);
      const batch = JSON.parse(fs.readFileSync(batchFile, "utf8")) as RolloutBatch;
      // the spec's rl stage: 2 prompts × group 3
      assert.deepEqual(batch.groups.map((g) => g.responses.length), [3, 3]);
      for (const r of batch.groups.flatMap((g) => g.responses)) {
        assert.equal(r.step_ends.at(-1), r.token_logp.length);
        assert.equal(r.probes!.belief!.length, r.step_ends.length + 1);
        if (r.token_logp.some((v, t) => Math.abs(v - r.token_logp_ref[t]!) > 1e-4)) sawLogratio = true;
      }
      const used = (JSON.parse(fs.readFileSync(path.join(out, "rollouts", `step-${step}.advantages.json`), "utf8")) as { advantages: number[][] }).advantages;
      const want = await stepwiseAdvantages(SPEC, batchFile);
      assertSameAdvantages(want, used, `step ${step}`, "TRL");
      assert.ok(want.flat().some((v) => v !== 0), "a nonzero advantage");
    }
    assert.ok(sawLogratio, "after one update the policy differs from the reference: logratio is read from a real reference model");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
