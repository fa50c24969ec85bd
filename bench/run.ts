/**
 * `npm run bench` (issues 2, 6 and 7): measures and prints, and writes bench/RESULTS.md.
 *
 *   npm run bench [-- --quick] [-- --skip-torch] [-- --skip-qwen] [-- --skip-qwen3] [-- --skip-scaling] [-- --skip-rl] [-- --skip-trl] [-- --out FILE]
 *
 * (a) reference model (gpt2, 4 layers, width 128, 4 heads, vocab 64, context 128): training step
 *     at batch 32 x 128 (forward + backward + AdamW), sampling at batch 64 x 100 new tokens;
 * (b) a Qwen2.5-0.5B-shaped llama model (random weights): sampling tokens/s at batch 1 and 4;
 * (c) peak memory (process RSS and TF.js bytes) of each;
 * (d) one RL-iteration-shaped workload (sampling + a training step) over group sizes and lengths;
 * (e) the reference model in PyTorch 2.x (the project's .venv) on as many threads as Stepwise's BLAS
 *     (the machine's cores), and the ratios;
 * (f) a Qwen3-0.6B-shaped model (bench/qwen3.ts), with the weight bytes read per second while
 *     decoding at batch 1 next to the measured memory bandwidth;
 * (g) one whole RL iteration of the quickstart (bench/rl-iteration.ts) against TRL's GRPOTrainer
 *     doing the same iteration on the same model (bench/trl_grpo.py).
 * `ratios` (issue 16) compare wall times (both sides use the same threads); the targets are in
 * TARGETS. Wall time and process CPU time, medians after a warm-up; the machine's cores are
 * shared, so the load average is recorded next to each comparison.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/backend/index.js";
import { gptConfig } from "../src/model/config.js";
import { Transformer } from "../src/model/transformer.js";
import { machine, memoryBandwidth, threadReadBandwidth, mib, resetPeakRss, type MachineInfo } from "./measure.js";
import { benchSample, benchScaling, benchTrain, type SampleFigures, type ScalingCell, type TrainFigures } from "./reference.js";
import { benchQwenSample, paramCount, qwenShaped, type QwenSampleFigures } from "./qwen.js";
import { sample } from "../src/model/sample.js";
import { packedWeightBytes } from "../src/backend/wasm-kernels.js";
import { bestTorch, torchFigures, trlFigures, type TorchFigures, type TrlFigures } from "./torch.js";
import { benchRlIteration, type RlIterationFigures } from "./rl-iteration.js";
import { blasThreads, nativeStatus } from "../src/backend/native.js";
import os from "node:os";
import { QWEN3_DECODE_TARGET, TARGETS } from "./targets.js";
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
  /** (g) the quickstart's RL iteration, Stepwise and TRL */
  rl_iteration?: { stepwise: RlIterationFigures | { error: string }; trl: TrlFigures | { error: string }; trl_runs: (TrlFigures | { error: string })[]; load: number[] };
  /** decoding at batch 1 of the Qwen3-shaped model: weight bytes read per second, and the machine's memcpy bandwidth */
  /** batch-1 decoding's weight bytes per second; one thread's memcpy; the addon's threads reading (null without it) */
  bandwidth?: { weight_bytes_per_s: number; memcpy_bytes_per_s: number; thread_read_bytes_per_s: number | null; read_threads: number | null };
  /** issue 16: Stepwise / yardstick, wall time (see TARGETS) */
  ratios?: Partial<Record<keyof typeof TARGETS, number>>;
  /** threads each side used */
  threads?: { stepwise_blas: number; yardsticks: number };
  /** load averages (1, 5, 15 min) when the PyTorch comparison started */
  torch_load?: number[];
  /** every PyTorch run (one per thread count tried); `torch` holds each figure's best */
  torch_runs?: (TorchFigures | { error: string })[];
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
  log(`(a) reference model: sampling at 64 x 100 new tokens (median of ${quick ? 2 : 5} after a warm-up)`);
  {
    const model = Transformer.create(gptConfig());
    res.sample = await benchSample(model, 64, 100, 16, quick ? 2 : 5); // as many timed runs as bench/torch_model.py (--runs 5)
    model.dispose();
  }
  log(`  ${res.sample.tokens_per_s.toFixed(0)} tokens/s wall, ${res.sample.tokens_per_cpu_s.toFixed(0)} per CPU second (target >= 2500); peak TF.js ${mib(res.sample.peak_tf_bytes)}, RSS ${mib(res.sample.peak_rss_bytes)}`);

  // (e) PyTorch
  const threads = nativeStatus().blas ? blasThreads() : os.availableParallelism();
  res.threads = { stepwise_blas: nativeStatus().blas ? threads : 1, yardsticks: threads };
  res.ratios = {};
  // the yardsticks at the target's thread count and at 1 (a loaded machine can make 2 OpenMP threads collapse: bestTorch)
  const threadCounts = [...new Set([threads, 1])];
  if (!has("--skip-torch")) {
    res.torch_load = os.loadavg();
    log(`\n(e) PyTorch at ${threadCounts.join(" and ")} thread(s), each figure at the faster (.venv/bin/python bench/torch_model.py)`);
    res.torch_runs = threadCounts.map((n) => torchFigures(quick ? 3 : 5, n));
    for (const t of res.torch_runs) {
      if ("error" in t) log(`  not run: ${t.error}`);
      else log(`  torch ${t.torch}, ${t.threads} thread(s): training step ${t.train_step_s.toFixed(2)} s wall (${t.train_step_cpu_s.toFixed(2)} s CPU), sampling ${t.sample_tokens_per_s.toFixed(0)} tokens/s (${t.sample_tokens_per_cpu_s.toFixed(0)} per CPU second)`);
    }
    const ok = res.torch_runs.filter((t): t is TorchFigures => !("error" in t));
    res.torch = ok.length ? bestTorch(ok) : res.torch_runs[0];
    if (!("error" in res.torch)) {
      const t = res.torch;
      res.ratios.train_step = res.train.wall_s / t.train_step_s;
      res.ratios.sampling = res.sample.tokens_per_s / t.sample_tokens_per_s;
      log(`  ratios (wall): training step ${res.ratios.train_step.toFixed(2)}x PyTorch's time (target <= ${TARGETS.train_step.at_most}), sampling ${res.ratios.sampling.toFixed(2)}x its tokens/s (target >= ${TARGETS.sampling.at_least})`);
    }
  }

  // (g) the quickstart's RL iteration against TRL
  if (!has("--skip-rl")) {
    const load = os.loadavg();
    const n = quick ? 2 : 3;
    log(`\n(g) one RL iteration of examples/quickstart.sw (16 prompts x 8, <= 64 tokens), median of ${n} after a warm-up`);
    let stepwise: RlIterationFigures | { error: string };
    try {
      stepwise = await benchRlIteration(n);
      log(`  Stepwise: ${stepwise.iteration_s.toFixed(2)} s wall (${stepwise.iteration_cpu_s.toFixed(2)} s CPU), ${stepwise.mean_completion_tokens.toFixed(1)} tokens per response`);
    } catch (err) {
      stepwise = { error: (err as Error).message.slice(0, 300) };
      log(`  Stepwise failed: ${stepwise.error}`);
    }
    const trlRuns = has("--skip-trl") ? [{ error: "skipped (--skip-trl)" }] : threadCounts.map((t) => trlFigures(n, t));
    const trlOk = trlRuns.filter((t): t is TrlFigures => !("error" in t));
    for (const t of trlOk) log(`  TRL at ${t.threads} thread(s): ${t.iteration_s.toFixed(2)} s wall`);
    const trl = trlOk.length ? trlOk.reduce((a, b) => (b.iteration_s < a.iteration_s ? b : a)) : trlRuns[0];
    if ("error" in trl) log(`  TRL not run: ${trl.error}`);
    else log(`  TRL ${trl.trl} GRPOTrainer (torch ${trl.torch}, ${trl.threads} threads): ${trl.iteration_s.toFixed(2)} s wall (${trl.iteration_cpu_s.toFixed(2)} s CPU), ${trl.mean_completion_tokens?.toFixed(1)} tokens per response`);
    if (!("error" in stepwise) && !("error" in trl)) {
      res.ratios.rl_iteration_vs_trl = stepwise.iteration_s / trl.iteration_s;
      log(`  ratio (wall): ${res.ratios.rl_iteration_vs_trl.toFixed(2)}x TRL's time (target < 1)`);
    }
    res.rl_iteration = { stepwise, trl, trl_runs: trlRuns, load };
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

  // (f) Qwen3-0.6B-shaped (bench/qwen3.ts), last: a wasm heap abort (batch 8 after the other sections
  // have fragmented the heap) ends the backend, and every figure before it is kept
  if (!has("--skip-qwen3")) {
    log(`\n(f) Qwen3-0.6B-shaped model (random weights)`);
    const bandwidth = memoryBandwidth().bytes_per_s; // before the model fills the memory
    const reading = threadReadBandwidth();
    try {
      res.qwen3 = await benchQwen3({ quick, log });
      const b1 = res.qwen3.runs.find((r) => r.batch === 1);
      if (b1) {
        // every decoding step at batch 1 reads every weight once
        res.bandwidth = {
          weight_bytes_per_s: res.qwen3.model_tf_bytes * b1.decode_tokens_per_s, memcpy_bytes_per_s: bandwidth,
          thread_read_bytes_per_s: reading?.bytes_per_s ?? null, read_threads: reading?.threads ?? null,
        };
        log(`  batch 1 decoding reads ${(res.bandwidth.weight_bytes_per_s / 1e9).toFixed(1)} GB/s of weights (target ${QWEN3_DECODE_TARGET} tokens/s); memcpy moves ${(res.bandwidth.memcpy_bytes_per_s / 1e9).toFixed(1)} GB/s (read + write, one thread)` +
          (reading ? `; the addon's ${reading.threads} threads read ${(reading.bytes_per_s / 1e9).toFixed(1)} GB/s` : ""));
      }
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
