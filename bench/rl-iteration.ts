/**
 * Bench item (issue 16): one whole RL iteration of the quickstart (examples/quickstart.sw: the
 * warm start examples/checkpoints/arith-sft, 16 prompts x a group of 8, at most 64 new tokens,
 * GRPO) as `stepwise run` does it: sample, score (lp_old), reference pass (lp_ref), rewards and
 * advantages, the update in 2 minibatches of 64. Median wall and CPU seconds over `iterations`
 * iterations after a warm-up one (run directory writes and evaluations left out). The yardstick,
 * TRL's GRPOTrainer on the same iteration, is bench/trl_grpo.py.
 *
 *   npx tsx bench/rl-iteration.ts [--iterations 3]   (this item alone)
 */
import { fileURLToPath } from "node:url";
import path from "node:path";
import { initBackend } from "../src/backend/index.js";
import { compileSpecFile } from "../src/cli/spec.js";
import { buildFromPlan } from "../src/run/build.js";
import { stepSeed } from "../src/run/runner.js";
import { rlIteration } from "../src/rl/iteration.js";
import { AdamW } from "../src/train/optimizer.js";
import type { TrainContext } from "../src/train/context.js";
import { median } from "./measure.js";

/** One RL iteration's cost, on either side of the comparison (TRL's figures in torch.ts extend it). */
export interface IterationFigures {
  prompts: number;
  group: number;
  max_tokens: number;
  /** median seconds of one iteration (sample, score, reference pass, advantages, the update's 2 minibatches) */
  iteration_s: number;
  iteration_cpu_s: number;
  walls: number[];
  /** mean response length over the timed iterations (tokens; null when the yardstick did not report it) */
  mean_completion_tokens: number | null;
}

export interface RlIterationFigures extends IterationFigures {
  spec: string;
  mean_completion_tokens: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const SPEC = path.join(here, "..", "examples", "quickstart.sw");

export async function benchRlIteration(iterations: number): Promise<RlIterationFigures> {
  const { plan } = compileSpecFile(SPEC, "run");
  if (!plan) throw new Error(`${SPEC} does not compile`);
  const stage = plan.train.find((s) => s.kind === "rl");
  if (!stage || stage.kind !== "rl") throw new Error(`${SPEC} has no rl stage`);
  const built = await buildFromPlan(plan, path.dirname(SPEC));
  const ctx: TrainContext = { model: built.model, tokenizer: built.tokenizer, task: built.task, segmentation: plan.steps };
  const reference = ctx.model.clone(false);
  const optimizer = new AdamW(ctx.model.params, { weightDecay: 0 }); // as the runner's RL stages
  const stageIndex = plan.train.indexOf(stage);
  const walls: number[] = [], cpus: number[] = [], lengths: number[] = [];
  try {
    for (let it = 0; it <= iterations; it++) {
      const problems = ctx.task.train(stage.prompts, it * stage.prompts);
      const c0 = process.cpuUsage(), t0 = performance.now();
      const res = await rlIteration(ctx, reference, optimizer, problems, {
        plan, iteration: it, group: stage.group, epochs: stage.epochs, minibatch: stage.minibatch, lr: stage.lr,
        seed: stepSeed(plan.seed, stageIndex, it),
      });
      const wall = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
      if (it === 0) continue; // warm-up
      walls.push(wall);
      cpus.push((c.user + c.system) / 1e6);
      const rs = res.batch.groups.flatMap((g) => g.responses);
      lengths.push(rs.reduce((a, r) => a + r.token_logp.length, 0) / rs.length);
    }
  } finally {
    reference.dispose();
    optimizer.dispose();
    ctx.model.dispose();
  }
  const sampler = plan.sampler?.kind === "standard" ? plan.sampler : undefined;
  return {
    spec: "examples/quickstart.sw", prompts: stage.prompts, group: stage.group, max_tokens: sampler?.maxTokens ?? 0,
    iteration_s: median(walls), iteration_cpu_s: median(cpus), walls,
    mean_completion_tokens: lengths.reduce((a, b) => a + b, 0) / lengths.length,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const info = await initBackend();
  const i = process.argv.indexOf("--iterations");
  console.log(`backend: ${info.detail}`);
  console.log(JSON.stringify(await benchRlIteration(i >= 0 ? Number(process.argv[i + 1]) : 3), null, 1));
}
