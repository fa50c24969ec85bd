/**
 * Validation of a rollout batch read from JSON (`stepwise advantage --batch`, runs/<x>/rollouts/).
 * Validate early, with a message that names the field and the group/response and says what was
 * expected: `groups[1].responses[2].step_ends: last value 9 must equal the token count 10`.
 */
import type { FinishReason } from "../model/types.js";
import type { RolloutBatch, RolloutGroup, RolloutResponse } from "./batch.js";

const FINISH_REASONS: readonly FinishReason[] = ["stop", "stop_string", "length"];

/** A malformed batch: `problems` lists every problem found (the message shows the first few). */
export class BatchError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    const shown = problems.slice(0, 10);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
    super(`malformed rollout batch:\n  ${shown.join("\n  ")}${more}`);
    this.name = "BatchError";
    this.problems = problems;
  }
}

/** The step label names, in the order of their codes (dsl/plan.ts: essential 0 … answer 4). */
export const STEP_LABELS = ["essential", "redundant", "slip", "fix", "answer"] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + "…" : v)}`;
  if (typeof v === "number") return `${v}`;
  return typeof v;
}

/** Checks `v` is an array of finite numbers; reports the first bad element. */
function numberArray(v: unknown, path: string, problems: string[], integer = false): v is number[] {
  if (!Array.isArray(v)) {
    problems.push(`${path}: expected an array of numbers, found ${describe(v)}`);
    return false;
  }
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x) || (integer && !Number.isInteger(x))) {
      problems.push(`${path}[${i}]: expected ${integer ? "an integer" : "a finite number"}, found ${describe(x)}`);
      return false;
    }
  }
  return true;
}

function validateResponse(r: unknown, path: string, problems: string[]): void {
  if (!isObject(r)) {
    problems.push(`${path}: expected a response object, found ${describe(r)}`);
    return;
  }
  if (typeof r.text !== "string") problems.push(`${path}.text: expected a string, found ${describe(r.text)}`);

  // 1) token-level arrays: token count = token_logp.length; the others must match it
  const okLogp = numberArray(r.token_logp, `${path}.token_logp`, problems);
  const n = okLogp ? (r.token_logp as number[]).length : -1;
  for (const field of ["token_logp_ref", "token_entropy"] as const) {
    if (numberArray(r[field], `${path}.${field}`, problems) && n >= 0 && (r[field] as number[]).length !== n) {
      problems.push(
        `${path}.${field}: has ${(r[field] as number[]).length} values, must have one per token (token_logp has ${n})`,
      );
    }
  }
  if (r.tokens !== undefined && numberArray(r.tokens, `${path}.tokens`, problems, true) && n >= 0) {
    if ((r.tokens as number[]).length !== n) {
      problems.push(`${path}.tokens: has ${(r.tokens as number[]).length} ids, must have one per token (token_logp has ${n})`);
    }
  }

  // 2) steps: strictly increasing exclusive ends, the last equal to the token count
  let K = -1;
  if (numberArray(r.step_ends, `${path}.step_ends`, problems, true)) {
    const ends = r.step_ends as number[];
    K = ends.length;
    let ok = true;
    for (let k = 0; k < ends.length && ok; k++) {
      const prev = k === 0 ? 0 : ends[k - 1];
      if (ends[k] <= prev) {
        problems.push(
          k === 0
            ? `${path}.step_ends[0]: value ${ends[0]} must be at least 1 (a step holds at least one token)`
            : `${path}.step_ends[${k}]: value ${ends[k]} must be greater than the previous end ${prev} (strictly increasing)`,
        );
        ok = false;
      }
    }
    if (ok && n >= 0) {
      if (ends.length === 0 && n > 0) {
        problems.push(`${path}.step_ends: is empty, but the response has ${n} tokens (the last end must equal the token count)`);
      } else if (ends.length > 0 && ends[ends.length - 1] !== n) {
        problems.push(`${path}.step_ends: last value ${ends[ends.length - 1]} must equal the token count ${n}`);
      }
    }
  }

  // 3) response-level scalars
  if (typeof r.outcome !== "number" || !Number.isFinite(r.outcome)) {
    problems.push(`${path}.outcome: expected a number (the verifier result, 0 or 1), found ${describe(r.outcome)}`);
  }
  if (r.truncated !== undefined && typeof r.truncated !== "boolean") {
    problems.push(`${path}.truncated: expected true or false, found ${describe(r.truncated)}`);
  }
  // finish (optional: batches recorded before it existed have none)
  if (r.finish !== undefined) {
    if (typeof r.finish !== "string" || !FINISH_REASONS.includes(r.finish as FinishReason)) {
      problems.push(`${path}.finish: expected one of ${FINISH_REASONS.map((f) => `"${f}"`).join(", ")}, found ${describe(r.finish)}`);
    } else if (r.truncated === true && r.finish !== "length") {
      problems.push(`${path}.finish: is "${r.finish}" but truncated is true (a truncated response finishes with "length")`);
    } else if (r.finish === "stop" && n === 0) {
      problems.push(`${path}.finish: is "stop" but the response has no tokens (a stopped response ends with its stop token)`);
    }
  }

  // 4) probes: K+1 values each (before the first step and after each step)
  if (r.probes !== undefined) {
    if (!isObject(r.probes)) {
      problems.push(`${path}.probes: expected an object {name: [values]}, found ${describe(r.probes)}`);
    } else {
      for (const [name, values] of Object.entries(r.probes)) {
        const p = `${path}.probes.${name}`;
        if (numberArray(values, p, problems) && K >= 0 && (values as number[]).length !== K + 1) {
          problems.push(
            `${p}: has ${(values as number[]).length} values, must have K+1 = ${K + 1} (one before the first step and one after each of the ${K} steps)`,
          );
        }
      }
    }
  }

  // 4b) Monte Carlo values: K+1 values in [0, 1] (before each step, then the outcome)
  if (r.mc_value !== undefined && numberArray(r.mc_value, `${path}.mc_value`, problems) && K >= 0) {
    const v = r.mc_value as number[];
    if (v.length !== K + 1) problems.push(`${path}.mc_value: has ${v.length} values, must have K+1 = ${K + 1} (V(s_k) before each of the ${K} steps, then the outcome)`);
    else if (v.some((x) => x < 0 || x > 1)) problems.push(`${path}.mc_value: values must be fractions in [0, 1] (correct completions / rollouts)`);
  }

  // 5) step labels: one per step, from the known names
  if (r.step_labels !== undefined) {
    if (!Array.isArray(r.step_labels)) {
      problems.push(`${path}.step_labels: expected an array of strings, found ${describe(r.step_labels)}`);
    } else {
      if (K >= 0 && r.step_labels.length !== K) {
        problems.push(`${path}.step_labels: has ${r.step_labels.length} labels, must have one per step (${K})`);
      }
      r.step_labels.forEach((l, k) => {
        if (typeof l !== "string") problems.push(`${path}.step_labels[${k}]: expected a string, found ${describe(l)}`);
      });
    }
  }
}

/**
 * Checks that `json` is a well-formed RolloutBatch and returns it typed; throws a BatchError
 * listing every problem otherwise.
 * @example validateBatch(JSON.parse(fs.readFileSync("iter-3.json", "utf8")))
 */
export function validateBatch(json: unknown): RolloutBatch {
  const problems: string[] = [];
  if (!isObject(json)) throw new BatchError([`batch: expected an object {"groups": [...]}, found ${describe(json)}`]);
  if (json.temperature !== undefined && !(typeof json.temperature === "number" && json.temperature > 0)) {
    throw new BatchError([`temperature: expected a number > 0 (the sampling temperature of the log-probs), found ${describe(json.temperature)}`]);
  }
  const groups = json.groups;
  if (!Array.isArray(groups)) throw new BatchError([`groups: expected an array of groups, found ${describe(groups)}`]);
  if (groups.length === 0) throw new BatchError([`groups: is empty, a batch holds at least one group`]);
  groups.forEach((g: unknown, gi: number) => {
    const gp = `groups[${gi}]`;
    if (!isObject(g)) {
      problems.push(`${gp}: expected a group object {prompt, reference, responses}, found ${describe(g)}`);
      return;
    }
    if (typeof g.prompt !== "string") problems.push(`${gp}.prompt: expected a string, found ${describe(g.prompt)}`);
    if (typeof g.reference !== "string") problems.push(`${gp}.reference: expected a string, found ${describe(g.reference)}`);
    if (!Array.isArray(g.responses)) {
      problems.push(`${gp}.responses: expected an array of responses, found ${describe(g.responses)}`);
      return;
    }
    if (g.responses.length === 0) problems.push(`${gp}.responses: is empty, a group holds at least one response`);
    g.responses.forEach((r: unknown, ri: number) => validateResponse(r, `${gp}.responses[${ri}]`, problems));
  });
  // every response records the same probes (a probe's values are read for the whole batch), and mc_value in all or none
  if (problems.length === 0) {
    const all = groups.flatMap((g: { responses: RolloutResponse[] }) => g.responses);
    if (all.some((r) => r.mc_value !== undefined) && all.some((r) => r.mc_value === undefined)) {
      problems.push("mc_value: some responses record Monte Carlo values and some do not (every response must, or none)");
    }
    const names = [...new Set(all.flatMap((r) => Object.keys(r.probes ?? {})))];
    groups.forEach((g: { responses: RolloutResponse[] }, gi: number) =>
      g.responses.forEach((r, ri) => {
        for (const name of names) {
          if (r.probes?.[name] === undefined) {
            problems.push(`groups[${gi}].responses[${ri}].probes: has no values for probe "${name}" (other responses record it; every response must)`);
          }
        }
      }),
    );
  }
  if (problems.length > 0) throw new BatchError(problems);
  return json as unknown as RolloutBatch;
}

export type { RolloutBatch, RolloutGroup, RolloutResponse };
