import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { AdamW, clipScale, decays, disposeState, globalNorm } from "../../src/train/optimizer.js";
import { cosineSchedule, constantSchedule } from "../../src/train/schedule.js";

before(async () => {
  await tf.setBackend("cpu");
});

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-6, what = ""): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function params() {
  return new Map<string, tf.Variable>([
    ["model.layers.0.mlp.up_proj.weight", tf.variable(tf.tensor2d([[1, 2], [3, 4]]))],
    ["model.layers.0.self_attn.q_proj.bias", tf.variable(tf.tensor1d([0.5, -0.5]))],
  ]);
}
const W = "model.layers.0.mlp.up_proj.weight";
const B = "model.layers.0.self_attn.q_proj.bias";

test("decay rule: matrices decay; biases, norms and embeddings do not", () => {
  assert.equal(decays("model.layers.0.mlp.up_proj.weight", [64, 32]), true);
  assert.equal(decays("lm_head.weight", [300, 32]), true);
  assert.equal(decays("transformer.h.0.attn.c_attn.weight", [32, 96]), true);
  assert.equal(decays("model.layers.0.self_attn.q_proj.bias", [32]), false);
  assert.equal(decays("model.norm.weight", [32]), false);
  assert.equal(decays("transformer.ln_f.weight", [32]), false);
  assert.equal(decays("model.embed_tokens.weight", [300, 32]), false);
  assert.equal(decays("transformer.wte.weight", [64, 128]), false);
  assert.equal(decays("transformer.wpe.weight", [128, 128]), false);
});

test("AdamW: two steps equal hand-computed numbers (and torch.optim.AdamW)", () => {
  const p = params();
  const opt = new AdamW(p, { weightDecay: 0.1, maxGradNorm: 0 });
  assert.equal(opt.decaysParam(W), true);
  assert.equal(opt.decaysParam(B), false);
  // Step 1, lr 0.1: m = 0.1 g, v = 0.05 g^2, so m^ = g, v^ = g^2 and the update is lr * sign(g).
  // w <- w (1 - 0.1 * 0.1) - 0.1 sign(g): [[0.99 - 0.1, 1.98 + 0.1], [2.97 - 0.1, 3.96 - 0]]
  const g1 = new Map<string, tf.Tensor>([[W, tf.tensor2d([[0.1, -0.2], [0.3, 0]])], [B, tf.tensor1d([1, -1])]]);
  const info = opt.step(g1, 0.1);
  assert.equal(info.applied, true);
  assert.equal(info.clipped, false);
  close([info.gradNorm], [Math.sqrt(0.01 + 0.04 + 0.09 + 1 + 1)], 1e-6, "norm");
  close(p.get(W)!.dataSync(), [0.89, 2.08, 2.87, 3.96], 1e-6, "w1");
  close(p.get(B)!.dataSync(), [0.4, -0.4], 1e-6, "b1");
  // Step 2, lr 0.05, bias g = [0.5, 0.25]: for b[0], m = 0.09 + 0.05 = 0.14, v = 0.0475 + 0.0125 = 0.06,
  // m^ = 0.14 / 0.19, v^ = 0.06 / 0.0975, b = 0.4 - 0.05 * 0.736842 / 0.784465 = 0.353035
  const g2 = new Map<string, tf.Tensor>([[W, tf.tensor2d([[0.05, 0.1], [-0.3, 0.2]])], [B, tf.tensor1d([0.5, 0.25])]]);
  opt.step(g2, 0.05);
  close(p.get(W)!.dataSync(), [0.83858536, 2.08301847, 2.85828158, 3.903452], 1e-6, "w2");
  close(p.get(B)!.dataSync(), [0.35303535, -0.37626170], 1e-6, "b2");
  const st = opt.getState();
  assert.equal(st.step, 2);
  close(st.m.get(W)!.dataSync(), [0.014, -0.008, -0.003, 0.02], 1e-7, "m");
  close(st.v.get(W)!.dataSync(), [0.0006, 0.0024, 0.008775, 0.002], 1e-7, "v");
  disposeState(st);
  tf.dispose([...g1.values(), ...g2.values()]);
  opt.dispose();
  tf.dispose([...p.values()]);
});

test("gradient clipping: pre-clip norm returned, moments see the clipped gradient", () => {
  const p = params();
  const opt = new AdamW(p, { maxGradNorm: 1 });
  // norm = sqrt(3^2 + 4^2) = 5 -> scale = 1 / (5 + 1e-6)
  const g = new Map<string, tf.Tensor>([[W, tf.tensor2d([[3, 0], [0, 4]])], [B, tf.tensor1d([0, 0])]]);
  const info = opt.step(g, 0.01);
  assert.equal(info.clipped, true);
  close([info.gradNorm], [5], 1e-6);
  const st = opt.getState();
  // m = (1 - b1) * g * scale = 0.1 * [0.6, 0, 0, 0.8]
  close(st.m.get(W)!.dataSync(), [0.06, 0, 0, 0.08], 1e-7);
  disposeState(st);
  assert.equal(clipScale(0.5, 1), 1);
  assert.equal(clipScale(5, 0), 1);
  const n = globalNorm([tf.tensor1d([1, 2]), tf.tensor2d([[2]])]);
  close(n.dataSync(), [3]);
  n.dispose();
  // a non-finite norm skips the update: parameters and step count stay
  const before = Array.from(p.get(W)!.dataSync());
  const bad = new Map<string, tf.Tensor>([[W, tf.tensor2d([[NaN, 0], [0, 1]])]]);
  const skipped = opt.step(bad, 0.01);
  assert.equal(skipped.applied, false);
  assert.equal(opt.stepCount, 1);
  assert.deepEqual(Array.from(p.get(W)!.dataSync()), before);
  tf.dispose([...g.values(), ...bad.values()]);
  opt.dispose();
  tf.dispose([...p.values()]);
});

test("grads keyed by variable.name are accepted; unknown names and bad shapes are refused", () => {
  const p = params();
  const opt = new AdamW(p);
  const byVar: tf.NamedTensorMap = { [p.get(B)!.name]: tf.tensor1d([1, 1]) };
  opt.step(byVar, 0.1);
  close(p.get(B)!.dataSync(), [0.4, -0.6], 1e-6);
  assert.throws(() => opt.step({ nope: tf.tensor1d([1, 1]) }, 0.1), /"nope" matches no parameter/);
  assert.throws(() => opt.step(new Map([[B, tf.tensor1d([1, 1, 1])]]), 0.1), /shape \[3\]/);
  opt.dispose();
  tf.dispose([...p.values()]);
});

test("getState/setState: a restored optimizer continues exactly; no tensor leaks", () => {
  const pa = params();
  const pb = params();
  const a = new AdamW(pa);
  const b = new AdamW(pb);
  const grads = (k: number) => new Map<string, tf.Tensor>([[W, tf.tensor2d([[k, -k], [0.5 * k, 1]])], [B, tf.tensor1d([k, 2])]]);
  const run = (opt: AdamW, k: number) => {
    const g = grads(k);
    opt.step(g, 0.01);
    tf.dispose([...g.values()]);
  };
  run(a, 1);
  const n1 = tf.memory().numTensors;
  run(a, 2);
  run(a, 3);
  assert.equal(tf.memory().numTensors, n1, "numTensors flat across steps");
  // copy a's params and state into b, then step both
  for (const [name, v] of pa) pb.get(name)!.assign(v);
  const st = a.getState();
  b.setState(st);
  disposeState(st);
  assert.equal(b.stepCount, 3);
  run(a, 4);
  run(b, 4);
  for (const name of pa.keys()) assert.deepEqual(Array.from(pb.get(name)!.dataSync()), Array.from(pa.get(name)!.dataSync()));
  const wrong = { step: 1, m: new Map([[W, tf.zeros([3, 3])]]), v: new Map() };
  assert.throws(() => b.setState(wrong), /m of ".*up_proj.weight" has shape \[3,3\]/);
  disposeState(wrong);
  a.dispose();
  b.dispose();
  tf.dispose([...pa.values(), ...pb.values()]);
});

test("cosine schedule at hand-picked steps", () => {
  const lr = cosineSchedule({ peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 });
  close([lr(0)], [1e-4], 1e-12); // 1/10 of the peak
  close([lr(4)], [5e-4], 1e-12);
  close([lr(9)], [1e-3], 1e-12); // end of warm-up: the peak
  close([lr(10)], [1e-3], 1e-12); // cosine starts at the peak
  close([lr(60)], [1e-4 + 0.9e-3 * 0.5], 1e-12); // half-way: cos(pi/2) = 0 -> mid-point 5.5e-4
  close([lr(35)], [1e-4 + (0.9e-3 * (1 + Math.SQRT1_2)) / 2], 1e-12); // a quarter: cos(pi/4)
  close([lr(110)], [1e-4], 1e-12); // floor
  close([lr(500)], [1e-4], 1e-12); // held after the end
  const noWarm = cosineSchedule({ peakLr: 2, warmupSteps: 0, totalSteps: 4, minLrRatio: 0 });
  assert.deepEqual([0, 1, 2, 3, 4].map((s) => Number(noWarm(s).toFixed(12))), [2, 1.707106781187, 1, 0.292893218813, 0]);
  const c = constantSchedule(0.5, 2);
  assert.deepEqual([0, 1, 2, 9].map(c), [0.25, 0.5, 0.5, 0.5]);
  assert.throws(() => cosineSchedule({ peakLr: 1, warmupSteps: 10, totalSteps: 5 }), /totalSteps \(5\) must be >= warmupSteps \(10\)/);
});
