/**
 * How far apart the training and held-out worlds of an arithmetic task are. The split itself is
 * disjoint by construction (a hash of the expression text, arithmetic.ts splitOf); what decides
 * whether held-out accuracy measures reasoning or recall is how much of the held-out work a warm
 * start has already seen: the same expression (never), or every computation line of its worked
 * solution (likely in a small world, rarer in a large one).
 *
 * `stepwise world SPEC` prints this report for a spec's task and SFT budget.
 */
import type { ArithmeticSettings } from "../../dsl/plan.js";
import type { ArithmeticTask } from "./arithmetic.js";
import type { Problem } from "./types.js";

/**
 * The number of distinct expressions the settings can draw: sum over n operands of
 * V^n * O^(n-1) (V values, O operators). Exact for + - *; an upper bound when "/" is allowed
 * (inexact divisions are never drawn).
 * @example worldSize({ operandsMin: 2, operandsMax: 3, valueMin: 1, valueMax: 9, operators: "+-", ... }) // 81*2 + 729*4 = 3078
 */
export function worldSize(s: Pick<ArithmeticSettings, "operandsMin" | "operandsMax" | "valueMin" | "valueMax" | "operators">): number {
  const v = s.valueMax - s.valueMin + 1;
  const o = new Set(s.operators).size;
  let total = 0;
  for (let n = s.operandsMin; n <= s.operandsMax; n++) total += v ** n * o ** (n - 1);
  return total;
}

export interface WorldOverlap {
  /** distinct expressions the settings allow (worldSize) */
  worldSize: number;
  /** training problems drawn (what `sft { steps S, batch B }` reads: the first S × B) */
  trainDraws: number;
  /** distinct expressions among them */
  trainDistinct: number;
  /** distinct held-out problems compared */
  heldOut: number;
  /** held-out expressions that also occur among the training draws (0 by construction) */
  exactOverlap: number;
  /** held-out problems every computation of whose worked solution occurs in some training solution */
  heldOutStepsAllSeen: number;
}

/** The computations a worked solution performs correctly (`4*2=8`, from essential and fix lines). */
function computations(p: Problem): string[] {
  const lines = p.solution.split("\n");
  return lines.flatMap((l, i) => {
    const label = p.labels?.[i];
    if (label === "essential") return [l.trim()];
    if (label === "fix") return [l.trim().replace(/^fix /, "")];
    return [];
  });
}

/** Compares the first `trainDraws` training problems of `task` with its first `heldOut` held-out problems. */
export function worldOverlap(task: ArithmeticTask, trainDraws: number, heldOut: number): WorldOverlap {
  const questions = new Set<string>();
  const seenComputations = new Set<string>();
  const chunk = 4096;
  for (let at = 0; at < trainDraws; at += chunk) {
    for (const p of task.train(Math.min(chunk, trainDraws - at), at)) {
      questions.add(p.question);
      for (const c of computations(p)) seenComputations.add(c);
    }
  }
  const held = task.heldOut(heldOut);
  return {
    worldSize: worldSize(task.settings),
    trainDraws,
    trainDistinct: questions.size,
    heldOut: held.length,
    exactOverlap: held.filter((p) => questions.has(p.question)).length,
    heldOutStepsAllSeen: held.filter((p) => computations(p).every((c) => seenComputations.has(c))).length,
  };
}

const pct = (a: number, b: number) => (b === 0 ? "0%" : `${((100 * a) / b).toFixed(1)}%`);

/** The report as lines of text. */
export function formatWorldOverlap(o: WorldOverlap): string {
  return [
    `world: ${o.worldSize.toLocaleString("en-US")} distinct expressions`,
    `training draws: ${o.trainDraws.toLocaleString("en-US")}, distinct ${o.trainDistinct.toLocaleString("en-US")} (${pct(o.trainDistinct, o.trainDraws)})`,
    `held-out: ${o.heldOut} expressions, in the training draws: ${o.exactOverlap} (${pct(o.exactOverlap, o.heldOut)})`,
    `held-out whose every computation occurs in a training solution: ${o.heldOutStepsAllSeen} (${pct(o.heldOutStepsAllSeen, o.heldOut)})`,
  ].join("\n");
}
