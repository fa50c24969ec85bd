/**
 * Model speed on the active backend (wasm by default), against PyTorch on one thread.
 *
 *   npx tsx bench/model.ts [--qwen | --only-qwen] [--skip-torch]
 *
 * Figures (reference model: gpt2 family, 4 layers, width 128, 4 heads, vocab 64, context 128):
 * - train_step_s: forward + backward + Adam update at batch 32 x 128 tokens (target <= 3.0 s)
 * - sample_tokens_per_s: batched KV-cache sampling, batch 64 x 100 new tokens (target >= 2,500)
 * - peak_bytes: tf.profile's peak backend memory during one training step
 * - with --qwen: sampling speed of a Qwen2.5-0.5B-shaped llama model (random weights), batch 4 x 8 tokens
 * The PyTorch figures come from bench/torch_model.py under /usr/bin/python3 when torch imports.
 */
import * as tf from "@tensorflow/tfjs-core";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { initBackend } from "../src/backend/index.js";
import { gptConfig, llamaConfig } from "../src/model/config.js";
import { Transformer, hfLayout } from "../src/model/transformer.js";
import { sample } from "../src/model/sample.js";
import type { ModelConfig } from "../src/model/types.js";

export interface ModelBenchResult {
  backend: string;
  train_step_s?: number;
  /** CPU seconds of the step (this process): close to the wall time on an idle machine */
  train_step_cpu_s?: number;
  train_peak_bytes?: number;
  sample_tokens_per_s?: number;
  /** tokens per CPU second: the speed on an idle machine when others share the cores */
  sample_tokens_per_cpu_s?: number;
  sample_peak_bytes?: number;
  qwen?: { params: number; prefill_s: number; tokens_per_s: number; bytes: number };
  torch?: { train_step_s: number; sample_tokens_per_s: number; torch: string } | { error: string };
  ratios?: { train_step_vs_torch: number; sample_speed_vs_torch: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median seconds of forward + backward + Adam at batch B x T tokens, and peak bytes of one step. */
async function trainStep(config: ModelConfig, B: number, T: number, repeats = 3): Promise<[number, number, number]> {
  const model = Transformer.create(config);
  const opt = tf.train.adam(1e-3);
  const toks = tf.randomUniform([B, T], 0, config.vocabSize, "int32", 1) as tf.Tensor2D;
  const step = () => {
    const loss = opt.minimize(() => tf.neg(tf.mean(model.score(toks).logp)) as tf.Scalar, true, model.trainableVariables())!;
    loss.dataSync();
    loss.dispose();
  };
  const prof = await tf.profile(step); // also the warm-up
  const times: number[] = [], cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    step();
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  toks.dispose(); opt.dispose(); model.dispose();
  return [median(times), prof.peakBytes, median(cpu)];
}

/** Tokens per second of sample() at batch B x newTokens, prompts of promptLen random tokens. */
async function sampleSpeed(model: Transformer, B: number, newTokens: number, promptLen: number): Promise<[number, number, number, number]> {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const prompts = Array.from({ length: B }, () => Array.from({ length: promptLen }, () => Math.floor(rnd() * model.config.vocabSize)));
  const run = () => sample(model, prompts, { maxNewTokens: newTokens, temperature: 1, seed: 1 }, () => "");
  let total = 0;
  const prof = await tf.profile(() => { total = run().reduce((a, r) => a + r.tokens.length, 0); });
  const t0 = performance.now(), c0 = process.cpuUsage();
  total = run().reduce((a, r) => a + r.tokens.length, 0);
  const sec = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return [total / sec, sec, prof.peakBytes, total / ((c.user + c.system) / 1e6)];
}

function torchFigures(): ModelBenchResult["torch"] {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "torch_model.py");
  const r = spawnSync("/usr/bin/python3", [script], { encoding: "utf8", timeout: 300_000 });
  if (r.error || r.status !== 0) return { error: (r.error?.message ?? r.stderr.trim().split("\n").pop() ?? "failed").slice(0, 200) };
  try {
    const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
    return { train_step_s: j.train_step_s, sample_tokens_per_s: j.sample_tokens_per_s, torch: j.torch };
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(0, 200)}` };
  }
}

/** A Qwen2.5-0.5B-shaped model (random uniform weights: speed does not depend on them). */
function qwenShaped(): Transformer {
  const config = llamaConfig({
    vocabSize: 151936, contextLength: 1024, layers: 24, width: 896, heads: 14, kvHeads: 2, ffnWidth: 4864,
    normEps: 1e-6, ropeTheta: 1e6, qkvBias: true, tieEmbeddings: true, seed: 0,
  });
  const tensors = new Map<string, tf.Tensor>();
  hfLayout(config).forEach((s, i) => tensors.set(s.name, s.init === "ones" ? tf.ones(s.shape) : tf.randomUniform(s.shape, -0.03, 0.03, "float32", i)));
  const model = Transformer.fromParams(config, tensors, false);
  for (const t of tensors.values()) t.dispose(); // variables share the data
  return model;
}

export async function runModelBench(opts: { qwen?: boolean; reference?: boolean; torch?: boolean; log?: (s: string) => void } = {}): Promise<ModelBenchResult> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const info = await initBackend();
  log(`backend: ${info.detail}`);
  const ref = gptConfig();
  const result: ModelBenchResult = { backend: info.name };
  if (opts.reference !== false) {
    const [train, trainPeak, trainCpu] = await trainStep(ref, 32, 128);
    log(`train step (32 x 128): ${train.toFixed(2)} s wall, ${trainCpu.toFixed(2)} s CPU, peak ${(trainPeak / 2 ** 20).toFixed(0)} MiB (target <= 3.0 s)`);
    const model = Transformer.create(ref);
    const [tps, , samplePeak, tpsCpu] = await sampleSpeed(model, 64, 100, 16);
    model.dispose();
    log(`sampling (64 x 100 new): ${tps.toFixed(0)} tokens/s wall, ${tpsCpu.toFixed(0)} per CPU second, peak ${(samplePeak / 2 ** 20).toFixed(0)} MiB (target >= 2500)`);
    Object.assign(result, {
      train_step_s: train, train_step_cpu_s: trainCpu, train_peak_bytes: trainPeak,
      sample_tokens_per_s: tps, sample_tokens_per_cpu_s: tpsCpu, sample_peak_bytes: samplePeak,
    });
  }
  if (opts.qwen) {
    const q = qwenShaped();
    const params = [...q.params.values()].reduce((a, v) => a + v.size, 0);
    const t0 = performance.now();
    sample(q, [[1, 2, 3, 4]], { maxNewTokens: 1, seed: 1 }, () => ""); // warm-up
    const prefill = (performance.now() - t0) / 1000;
    const [qtps] = await sampleSpeed(q, 4, 8, 16);
    result.qwen = { params, prefill_s: prefill, tokens_per_s: qtps, bytes: tf.memory().numBytes };
    q.dispose();
    log(`Qwen2.5-0.5B-shaped (${(params / 1e6).toFixed(0)}M params): ${qtps.toFixed(1)} tokens/s at batch 4 x 8`);
  }
  if (opts.torch !== false && result.train_step_s !== undefined && result.sample_tokens_per_s !== undefined) {
    result.torch = torchFigures();
    if ("train_step_s" in result.torch!) {
      result.ratios = {
        train_step_vs_torch: result.train_step_s / result.torch.train_step_s,
        sample_speed_vs_torch: result.sample_tokens_per_s / result.torch.sample_tokens_per_s,
      };
      log(`PyTorch ${result.torch.torch} (1 thread): train ${result.torch.train_step_s.toFixed(2)} s, sampling ${result.torch.sample_tokens_per_s.toFixed(0)} tokens/s`);
      log(`ratios: train step ${result.ratios.train_step_vs_torch.toFixed(2)}x PyTorch's time, sampling ${result.ratios.sample_speed_vs_torch.toFixed(2)}x PyTorch's speed`);
    } else {
      log(`PyTorch: not run (${(result.torch as { error: string }).error})`);
    }
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const argv = process.argv;
  const res = await runModelBench({ qwen: argv.includes("--qwen") || argv.includes("--only-qwen"), reference: !argv.includes("--only-qwen"), torch: !argv.includes("--skip-torch") });
  console.log(JSON.stringify(res, null, 2));
}
