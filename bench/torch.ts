/**
 * The Python yardsticks of `npm run bench`, run under the project's Python environment (.venv at
 * the repository root, pinned in test/python/requirements.txt: PyTorch 2.x from PyPI, TRL):
 * bench/torch_model.py (the reference model in PyTorch) and bench/trl_grpo.py (TRL's
 * GRPOTrainer on the quickstart's RL iteration). Both get the same thread count as Stepwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { IterationFigures } from "./rl-iteration.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const VENV_PYTHON = path.join(here, "..", ".venv", "bin", "python");

export interface TorchFigures {
  torch: string;
  /** the threads of the training-step figures */
  threads: number;
  /** the threads of the sampling figures, when another count sampled faster (bestTorch) */
  sample_threads?: number;
  train_step_s: number;
  train_step_cpu_s: number;
  sample_tokens_per_s: number;
  sample_tokens_per_cpu_s: number;
}

export interface TrlFigures extends IterationFigures {
  trl: string;
  transformers: string;
  torch: string;
  threads: number;
}

/** Run a bench script under the venv's Python with `threads` threads; its last stdout line is JSON. */
function runPython<T>(script: string, args: string[], threads: number, timeoutS: number): T | { error: string } {
  if (!existsSync(VENV_PYTHON)) {
    return { error: `no Python environment at ${VENV_PYTHON}: create it with \`bash test/python/ensure-venv.sh\` (npm test does it on first use)` };
  }
  const n = String(threads);
  const r = spawnSync(VENV_PYTHON, [path.join(here, script), "--threads", n, ...args], {
    encoding: "utf8", timeout: timeoutS * 1000, maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1" },
  });
  if (r.error || r.status !== 0) return { error: `${script}: ${(r.error?.message ?? r.stderr.trim().split("\n").pop() ?? "failed").slice(0, 300)}` };
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
  } catch {
    return { error: `${script}: unreadable output: ${r.stdout.slice(-300)}` };
  }
}

export function torchFigures(runs: number, threads: number): TorchFigures | { error: string } {
  return runPython<TorchFigures>("torch_model.py", ["--runs", String(runs)], threads, 900);
}

export function trlFigures(iterations: number, threads: number): TrlFigures | { error: string } {
  return runPython<TrlFigures>("trl_grpo.py", ["--iterations", String(iterations)], threads, 1800);
}

/**
 * Each figure at PyTorch's faster thread count. On a loaded machine 2 OpenMP threads can collapse
 * (measured here under a load average of ~12 on 2 cores: a training step of 6.6 s at 2 threads
 * against 0.62 s at 1, sampling 150 against 4,381 tokens/s), so the yardstick is the best of the
 * counts tried: never slower than PyTorch at the thread count the target names.
 */
export function bestTorch(runs: TorchFigures[]): TorchFigures {
  const train = runs.reduce((a, b) => (b.train_step_s < a.train_step_s ? b : a));
  const samp = runs.reduce((a, b) => (b.sample_tokens_per_s > a.sample_tokens_per_s ? b : a));
  return {
    ...train,
    sample_tokens_per_s: samp.sample_tokens_per_s, sample_tokens_per_cpu_s: samp.sample_tokens_per_cpu_s,
    ...(samp.threads !== train.threads ? { sample_threads: samp.threads } : {}),
  };
}
