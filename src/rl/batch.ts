/**
 * The rollout batch: what one RL iteration sampled and scored. This is the JSON format of
 * `stepwise advantage --batch` and of `runs/<x>/rollouts/iter-N.json`, so any recorded iteration
 * replays through a spec's formulas.
 */

export interface RolloutResponse {
  text: string;
  /** response token ids (optional in hand-written batches; always recorded by runs) */
  tokens?: number[];
  /** rollout-time policy log-prob of each response token (lp_old) */
  token_logp: number[];
  /** reference model's log-prob of the same tokens (lp_ref) */
  token_logp_ref: number[];
  token_entropy: number[];
  /** exclusive end token of each step; the last equals the token count */
  step_ends: number[];
  /** verifier result, 0 or 1 */
  outcome: number;
  /** true when the response hit the length limit before an answer */
  truncated?: boolean;
  /** per probe: K+1 values, before the first step and after each step */
  probes?: Record<string, number[]>;
  /** ground-truth step labels, when the task provides them */
  step_labels?: string[];
}

export interface RolloutGroup {
  prompt: string;
  reference: string;
  responses: RolloutResponse[];
}

export interface RolloutBatch {
  groups: RolloutGroup[];
}
