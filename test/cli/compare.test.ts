import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { compareCommand } from "../../src/cli/compare-command.js";
import { pngSize } from "../../src/analytics/render.js";
import { tinyWorldSpec } from "../helpers/plans.js";

const WORLD = `${tinyWorldSpec(4)}sampler standard { temperature 1.0, max_tokens 20 }
train { sft { steps 4, lr 3e-3, batch 8 } rl { iterations 2, prompts 2, group 4, lr 1e-3 } }
`;

test("stepwise compare: two methods × two seeds from one warm start per seed; table and charts written", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-compare-"));
  const a = path.join(dir, "a.sw");
  const b = path.join(dir, "b.sw");
  fs.writeFileSync(a, `experiment "a"\n${WORLD}use grpo\n`);
  fs.writeFileSync(b, `experiment "b"\n${WORLD}reward correct = outcome\nuse spro(beta = 0.05)\n`);
  const code = await compareCommand([a, b], { seeds: 2, out: dir, name: "t" });
  assert.equal(code, 0);
  const root = path.join(dir, "compare-t");
  // one warm start per seed, shared by both methods
  for (const s of [4, 5]) assert.ok(fs.existsSync(path.join(root, "warmstart", `seed-${s}`, "checkpoints", "final", "model.safetensors")));
  for (const m of ["grpo", "spro"]) for (const s of [4, 5]) {
    const plan = JSON.parse(fs.readFileSync(path.join(root, m, `seed-${s}`, "plan.json"), "utf8"));
    assert.equal(plan.model.kind, "load");
    assert.equal(plan.seed, s);
    assert.deepEqual(plan.train.map((x: { kind: string }) => x.kind), ["rl"]);
  }
  const csv = fs.readFileSync(path.join(root, "results.csv"), "utf8").trim().split("\n");
  assert.equal(csv.length, 3, "a header and one row per method");
  assert.match(csv[1]!, /^grpo,2,/);
  assert.match(csv[2]!, /^spro,2,/);
  assert.match(fs.readFileSync(path.join(root, "results.md"), "utf8"), /\| grpo \|/);
  const png = fs.readFileSync(path.join(root, "accuracy-tokens.png"));
  assert.ok(pngSize(png).width > 100);
});
