/**
 * The rollout batch: what one RL iteration sampled and scored. This is the JSON format of
 * `stepwise advantage --batch` and of `runs/<x>/rollouts/iter-N.json`, so any recorded iteration
 * replays through a spec's formulas.
 */
import type { FinishReason } from "../model/types.js";

/**
 * Per-token arrays (`tokens`, `token_logp`, `token_logp_ref`, `token_entropy`) and `step_ends`
 * cover exactly the response's tokens: a response that ended on a stop token (eos, end-of-turn)
 * includes it as its last token, in the last step; a truncated one has none. `text` is the
 * decoded response without the stop token.
 */
export interface RolloutResponse {
  text: string;
  /** response token ids, the stop token included when there is one (optional in hand-written batches; always recorded by runs) */
  tokens?: number[];
  /** rollout-time policy log-prob of each response token (lp_old), at the sampling temperature */
  token_logp: number[];
  /** reference model's log-prob of the same tokens (lp_ref), at the same temperature */
  token_logp_ref: number[];
  token_entropy: number[];
  /** exclusive end token of each step; the last equals the token count */
  step_ends: number[];
  /** verifier result, 0 or 1 */
  outcome: number;
  /** true when the response hit the length limit before an answer */
  truncated?: boolean;
  /** why the response ended: a stop token ("stop", the last token), a stop string, or the length limit (absent in older batches) */
  finish?: FinishReason;
  /** per probe: K+1 values, before the first step and after each step */
  probes?: Record<string, number[]>;
  /**
   * Monte Carlo values (`sampler standard { value_rollouts K }`): K+1 values, V(s_k) before each
   * step k (the fraction of K policy completions from the prefix that are correct; V(s_0) is the
   * group's prompt alone) and, last, the response's own outcome after its last step
   */
  mc_value?: number[];
  /** ground-truth step labels, when the task provides them */
  step_labels?: string[];
}

export interface RolloutGroup {
  prompt: string;
  reference: string;
  responses: RolloutResponse[];
}

export interface RolloutBatch {
  /** the sampling temperature T the log-probs were taken at, log_softmax(logits / T) (absent in older batches) */
  temperature?: number;
  groups: RolloutGroup[];
}
