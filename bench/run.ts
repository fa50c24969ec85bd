/**
 * `npm run bench` (issues 2, 6 and 7): measures and prints, and writes bench/RESULTS.md.
 *
 *   npm run bench [-- --quick] [-- --skip-torch] [-- --skip-qwen] [-- --skip-qwen3] [-- --skip-scaling] [-- --out FILE]
 *
 * (a) reference model (gpt2, 4 layers, width 128, 4 heads, vocab 64, context 128): training step
 *     at batch 32 x 128 (forward + backward + AdamW), sampling at batch 64 x 100 new tokens;
 * (b) a Qwen2.5-0.5B-shaped llama model (random weights): sampling tokens/s at batch 1 and 4;
 * (c) peak memory (process RSS and TF.js bytes) of each;
 * (d) one RL-iteration-shaped workload (sampling + a training step) over group sizes and lengths;
 * (e) the reference model in PyTorch, one thread, and the ratios.
 * Wall time and process CPU time, medians after a warm-up: the machine's cores are shared, so
 * CPU time is the better estimate of the speed on a quiet machine.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { gptConfig } from "../src/model/config.js";
import { Transformer } from "../src/model/transformer.js";
import { machine, mib, resetPeakRss, type MachineInfo } from "./measure.js";
import { benchSample, benchScaling, benchTrain, type SampleFigures, type ScalingCell, type TrainFigures } from "./reference.js";
import { benchQwenSample, paramCount, qwenShaped, type QwenSampleFigures } from "./qwen.js";
import { sample } from "../src/model/sample.js";
import { packedWeightBytes } from "../src/backend/wasm-kernels.js";
import { torchFigures, type TorchFigures } from "./torch.js";
import { renderResults } from "./report.js";
import { benchQwen3, type Qwen3Figures } from "./qwen3.js";

export interface QwenFigures {
  params: number;
  /** seconds to build the model (random weights) */
  build_s: number;
  /** per batch size: sampling figures (prompt of 16 tokens) */
  runs: QwenSampleFigures[];
  /** bytes of XNNPACK's packed weight copies held after sampling (src/backend/wasm-kernels.ts) */
  packed_bytes?: number;
  /** TF.js bytes held by the model */
  model_tf_bytes: number;
}

export interface BenchResults {
  command: string;
  quick: boolean;
  machine: MachineInfo;
  backend: string;
  train?: TrainFigures;
  sample?: SampleFigures;
  qwen?: QwenFigures | { error: string };
  scaling?: { prompts: number; promptLen: number; cells: ScalingCell[] };
  torch?: TorchFigures | { error: string };
  /** (f) Qwen3-0.6B-shaped model: bench/qwen3.ts */
  qwen3?: Qwen3Figures | { error: string };
  /** total wall seconds of the bench */
  elapsed_s: number;
}

const log = (s: string) => console.log(s);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const has = (f: string) => argv.includes(f);
  const quick = has("--quick");
  const outIdx = argv.indexOf("--out");
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = outIdx >= 0 ? argv[outIdx + 1] : path.join(here, "RESULTS.md");
  const t0 = performance.now();
  const info = await initBackend();
  const res: BenchResults = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    quick, machine: machine(), backend: info.detail, elapsed_s: 0,
  };
  const m = res.machine;
  log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib.toFixed(0)} GiB, node ${m.node}, load ${m.load.map((x) => x.toFixed(1)).join(" ")}`);
  log(`backend: ${info.detail}`);

  // (a, c) reference model
  const runs = quick ? 3 : 5;
  log(`\n(a) reference model: training step at 32 x 128 (median of ${runs} after a warm-up)`);
  res.train = await benchTrain(gptConfig(), 32, runs);
  log(`  ${res.train.wall_s.toFixed(2)} s wall, ${res.train.cpu_s.toFixed(2)} s CPU (target <= 3.0 s); peak TF.js ${mib(res.train.peak_tf_bytes)}, RSS ${mib(res.train.peak_rss_bytes)}`);
  log(`(a) reference model: sampling at 64 x 100 new tokens (median of ${quick ? 2 : 3})`);
  {
    const model = Transformer.create(gptConfig());
    res.sample = await benchSample(model, 64, 100, 16, quick ? 2 : 3);
    model.dispose();
  }
  log(`  ${res.sample.tokens_per_s.toFixed(0)} tokens/s wall, ${res.sample.tokens_per_cpu_s.toFixed(0)} per CPU second (target >= 2500); peak TF.js ${mib(res.sample.peak_tf_bytes)}, RSS ${mib(res.sample.peak_rss_bytes)}`);

  // (e) PyTorch
  if (!has("--skip-torch")) {
    log(`\n(e) PyTorch, one thread (/usr/bin/python3 bench/torch_model.py)`);
    res.torch = torchFigures(quick ? 3 : 5);
    if ("error" in res.torch) log(`  not run: ${res.torch.error}`);
    else {
      const t = res.torch;
      log(`  torch ${t.torch}: training step ${t.train_step_s.toFixed(2)} s wall (${t.train_step_cpu_s.toFixed(2)} s CPU), sampling ${t.sample_tokens_per_s.toFixed(0)} tokens/s (${t.sample_tokens_per_cpu_s.toFixed(0)} per CPU second)`);
      log(`  ratios (Stepwise / PyTorch, CPU time): training step ${(res.train.cpu_s / t.train_step_cpu_s).toFixed(2)}x the time, sampling ${(res.sample.tokens_per_cpu_s / t.sample_tokens_per_cpu_s).toFixed(2)}x the speed`);
    }
  }

  // (d) scaling
  if (!has("--skip-scaling")) {
    const groups = quick ? [4, 8] : [4, 8, 16], lengths = quick ? [64, 128] : [64, 128, 256];
    const prompts = 8, promptLen = 16;
    log(`\n(d) one RL iteration (sample ${prompts} prompts x group, then one training step), reference model, context ${promptLen + Math.max(...lengths)}`);
    res.scaling = { prompts, promptLen, cells: await benchScaling(groups, lengths, prompts, promptLen, log) };
  }

  // (b, c) Qwen2.5-0.5B-shaped
  if (!has("--skip-qwen")) {
    log(`\n(b) Qwen2.5-0.5B-shaped llama model (random weights)`);
    try {
      resetPeakRss();
      const b0 = performance.now();
      const q = qwenShaped();
      const build = (performance.now() - b0) / 1000;
      const qf: QwenFigures = { params: paramCount(q), build_s: build, runs: [], model_tf_bytes: tf.memory().numBytes };
      log(`  ${(qf.params / 1e6).toFixed(0)}M parameters, ${mib(qf.model_tf_bytes)} of weights, built in ${build.toFixed(1)} s`);
      sample(q, [[1, 2, 3]], { maxNewTokens: 2, seed: 1 }, () => ""); // warm-up: packs the weights
      for (const batch of [1, 4]) { // batch 16 aborted the wasm heap (weights + packed copies + prefill): see the report
        const r = await benchQwenSample(q, batch, 16, quick ? 8 : 32);
        qf.runs.push(r);
        log(`  batch ${batch}, prompt 16, ${r.new_tokens} new tokens: prefill ${r.prefill_s.toFixed(2)} s (${r.prefill_cpu_s.toFixed(2)} CPU); decoding ${r.decode_tokens_per_s.toFixed(1)} tokens/s wall, ${r.decode_tokens_per_cpu_s.toFixed(1)} per CPU-s; overall ${r.tokens_per_s.toFixed(1)} tokens/s (${r.tokens_per_cpu_s.toFixed(1)} per CPU-s); peak TF.js ${mib(r.peak_tf_bytes)}, RSS ${mib(r.peak_rss_bytes)}`);
      }
      qf.packed_bytes = packedWeightBytes();
      q.dispose();
      res.qwen = qf;
    } catch (err) {
      res.qwen = { error: (err as Error).message.slice(0, 300) };
      log(`  failed: ${res.qwen.error}`);
    }
  }

  // (f) Qwen3-0.6B-shaped (bench/qwen3.ts)
  if (!has("--skip-qwen3")) {
    log(`\n(f) Qwen3-0.6B-shaped model (random weights)`);
    try {
      res.qwen3 = await benchQwen3({ quick, log });
    } catch (err) {
      res.qwen3 = { error: (err as Error).message.slice(0, 300) };
      log(`  failed: ${res.qwen3.error}`);
    }
  }

  res.elapsed_s = (performance.now() - t0) / 1000;
  writeFileSync(out, renderResults(res));
  writeFileSync(out.replace(/\.md$/, "") + ".json", JSON.stringify(res, null, 2) + "\n");
  log(`\nwrote ${path.relative(process.cwd(), out)} (and .json) in ${res.elapsed_s.toFixed(0)} s`);
}

await main();
