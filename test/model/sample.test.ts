import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend/index.js";
import { gptConfig, llamaConfig } from "../../src/model/config.js";
import { Transformer } from "../../src/model/transformer.js";
import { sample } from "../../src/model/sample.js";
import type { ModelConfig } from "../../src/model/types.js";

const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join("");
const tiny = (family: "gpt2" | "llama"): ModelConfig =>
  family === "gpt2"
    ? gptConfig({ vocabSize: 23, contextLength: 32, layers: 2, width: 16, heads: 2, seed: 3 })
    : llamaConfig({ vocabSize: 23, contextLength: 32, layers: 2, width: 16, heads: 4, kvHeads: 2, ffnWidth: 24, qkvBias: true, ropeTheta: 100, seed: 4 });

/** Full-forward log-probs of the response tokens of one prompt + response, at temperature T. */
function recompute(model: Transformer, prompt: number[], resp: number[], temperature = 1): { logp: number[]; entropy: number[] } {
  const seq = [...prompt, ...resp];
  const s = model.score(tf.tensor2d([seq], [1, seq.length], "int32"), { temperature });
  const lp = Array.from(s.logp.dataSync()).slice(prompt.length - 1);
  const en = Array.from(s.entropy.dataSync()).slice(prompt.length - 1);
  s.logp.dispose(); s.entropy.dispose();
  return { logp: lp, entropy: en };
}

for (const backend of ["cpu", "wasm"] as const) {
  for (const family of ["gpt2", "llama"] as const) {
    test(`${backend}/${family}: KV-cache sampling log-probs and entropies equal a full forward pass (ragged prompts)`, async () => {
      await initBackend({ backend });
      const model = Transformer.create(tiny(family));
      const prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10], [11, 12]];
      const res = sample(model, prompts, { maxNewTokens: 12, temperature: 1.3, seed: 7, stopTokens: [0] }, decode);
      let n = 0;
      for (const [i, r] of res.entries()) {
        assert.equal(r.tokens.length, r.logp.length);
        assert.equal(r.text, decode(r.finish === "stop" ? r.tokens.slice(0, -1) : r.tokens));
        if (r.finish === "stop") assert.equal(r.tokens[r.tokens.length - 1], 0, "a stopped row ends with its stop token");
        if (r.tokens.length === 0) continue;
        const ref = recompute(model, prompts[i], r.tokens, 1.3);
        for (let t = 0; t < r.tokens.length; t++) {
          assert.ok(Math.abs(r.logp[t] - ref.logp[t]) < 1e-4, `seq ${i} token ${t}: ${r.logp[t]} vs ${ref.logp[t]}`);
          assert.ok(Math.abs(r.entropy[t] - ref.entropy[t]) < 1e-4, `seq ${i} token ${t} entropy`);
          n++;
        }
      }
      assert.ok(n > 20, `too few tokens compared (${n})`);
      model.dispose();
    });
  }
}

test("sampling: seeded reproducibility, greedy, stop strings, stop tokens, max tokens, context limit", async () => {
  await initBackend({ backend: "cpu" });
  const model = Transformer.create(tiny("gpt2"));
  const prompts = [[1, 2], [3, 4, 5]];
  const a = sample(model, prompts, { maxNewTokens: 10, temperature: 1, topK: 5, topP: 0.9, seed: 11 }, decode);
  const b = sample(model, prompts, { maxNewTokens: 10, temperature: 1, topK: 5, topP: 0.9, seed: 11 }, decode);
  assert.deepEqual(a, b);
  const c = sample(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 12 }, decode);
  assert.notDeepEqual(a.map((r) => r.tokens), c.map((r) => r.tokens));
  assert.ok(a.every((r) => r.tokens.length === 10 && r.truncated));
  // greedy: each token is the argmax, i.e. its log-prob is the max over the vocabulary
  const g = sample(model, [[1, 2]], { maxNewTokens: 5, temperature: 0 }, decode)[0];
  const logits = model.logits(tf.tensor2d([[1, 2, ...g.tokens]], [1, 2 + g.tokens.length], "int32"));
  const rows = logits.arraySync()[0];
  for (let t = 0; t < g.tokens.length; t++) {
    const row = rows[t + 1];
    assert.equal(g.tokens[t], row.indexOf(Math.max(...row)));
  }
  logits.dispose();
  // stop token: the first greedy token not seen before ends the sequence; it is the output's last
  // token (with its log-prob), and the text leaves it out
  const j = g.tokens.findIndex((t, i) => i > 0 && !g.tokens.slice(0, i).includes(t));
  assert.ok(j > 0, "greedy continuation repeats one token: pick another seed");
  const st = sample(model, [[1, 2]], { maxNewTokens: 5, temperature: 0, stopTokens: [g.tokens[j]] }, decode)[0];
  assert.deepEqual(st.tokens, g.tokens.slice(0, j + 1));
  assert.deepEqual(st.logp, g.logp.slice(0, j + 1));
  assert.equal(st.text, decode(g.tokens.slice(0, j)));
  assert.equal(st.truncated, false);
  assert.equal(st.finish, "stop");
  assert.equal(g.finish, "length");
  // stop string: the text of the first two greedy tokens, included in the output
  const ss = sample(model, [[1, 2]], { maxNewTokens: 5, temperature: 0, stop: [decode(g.tokens.slice(1, 2))] }, decode)[0];
  assert.ok(ss.tokens.length <= 2 && ss.text.endsWith(decode(g.tokens.slice(1, 2))));
  assert.equal(ss.truncated, false);
  assert.equal(ss.finish, "stop_string");
  // per-prompt budgets (a completion from a prefix that used part of the response's budget)
  const bu = sample(model, prompts, { maxNewTokens: 10, budgets: [3, 10], temperature: 1, seed: 5 }, decode);
  assert.deepEqual(bu.map((r) => [r.tokens.length, r.finish]), [[3, "length"], [10, "length"]]);
  // context: 32 tokens; a 30-token prompt leaves room for 2
  const long = Array.from({ length: 30 }, (_, i) => i % 23);
  const cx = sample(model, [long, [1]], { maxNewTokens: 10, temperature: 1, seed: 1 }, decode);
  assert.equal(cx[0].tokens.length, 2);
  assert.ok(cx[0].truncated);
  assert.equal(cx[1].tokens.length, 10);
  model.dispose();
});
