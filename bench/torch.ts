/** The reference model in PyTorch on one thread (bench/torch_model.py under /usr/bin/python3), when torch imports. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

export interface TorchFigures {
  torch: string;
  threads: number;
  train_step_s: number;
  train_step_cpu_s: number;
  sample_tokens_per_s: number;
  sample_tokens_per_cpu_s: number;
}

export function torchFigures(runs: number): TorchFigures | { error: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "torch_model.py");
  const r = spawnSync("/usr/bin/python3", [script, "--runs", String(runs)], {
    encoding: "utf8", timeout: 600_000,
    env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  });
  if (r.error || r.status !== 0) return { error: (r.error?.message ?? r.stderr.trim().split("\n").pop() ?? "failed").slice(0, 200) };
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as TorchFigures;
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(0, 200)}` };
  }
}
