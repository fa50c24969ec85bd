/**
 * The model contract shared by sampling, training, checkpoints and the RL loop.
 * One decoder class serves both families; `family` selects the blocks.
 */
import type * as tf from "@tensorflow/tfjs-core";

/** Architecture of a decoder-only transformer (the fields mirror Hugging Face config.json). */
export interface ModelConfig {
  /** "gpt2": learned positions, pre-LayerNorm, GELU MLP. "llama": RoPE, RMSNorm, SwiGLU, GQA (Llama, Qwen2). */
  family: "gpt2" | "llama";
  vocabSize: number;
  /** maximum sequence length (prompt + response) */
  contextLength: number;
  layers: number;
  /** hidden size d_model */
  width: number;
  heads: number;
  /** key/value heads for grouped-query attention; = heads for plain multi-head attention */
  kvHeads: number;
  /** MLP inner width (gpt2: usually 4*width; llama: intermediate_size) */
  ffnWidth: number;
  /** LayerNorm / RMSNorm epsilon */
  normEps: number;
  /** llama family: RoPE base */
  ropeTheta: number;
  /** llama family: RoPE frequency scaling (Llama 3.1+); absent = plain RoPE */
  ropeScaling?: Llama3RopeScaling;
  /** llama family: width of one attention head; absent = width / heads (Qwen3 sets it independently) */
  headDim?: number;
  /** Qwen3: RMSNorm over each query and key head, before RoPE (q_norm, k_norm) */
  qkNorm?: boolean;
  /** Qwen2: bias on q, k, v projections */
  qkvBias: boolean;
  /** output head shares the token embedding matrix */
  tieEmbeddings: boolean;
  /** seed of the initialisation */
  seed: number;
}

/**
 * Llama 3.1's RoPE scaling (rope_type "llama3", transformers' `_compute_llama3_parameters`): low
 * frequencies divided by `factor`, high ones kept, the band between interpolated smoothly.
 */
export interface Llama3RopeScaling {
  type: "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  /** the context length of pre-training (original_max_position_embeddings) */
  originalContextLength: number;
}

/** Named parameters, keyed by their Hugging Face names (e.g. "transformer.h.0.attn.c_attn.weight"). */
export type ParamMap = Map<string, tf.Variable>;

/** Per-token scores of given sequences, one forward pass. */
export interface ScoreOptions {
  /** compute the entropy (default true) */
  entropy?: boolean;
  /** the sampling temperature T: scores are log_softmax(logits / T) (default 1; as TRL and verl) */
  temperature?: number;
}

export interface TokenScores {
  /** [B, T-1]: log pi(tokens[b, t+1] | tokens[b, <= t]) */
  logp: tf.Tensor2D;
  /** [B, T-1]: entropy of the next-token distribution at position t (nats) */
  entropy: tf.Tensor2D;
}

export interface SampleOptions {
  maxNewTokens: number;
  /** per prompt, a smaller token budget than maxNewTokens (a completion from a prefix that already used part of the response's) */
  budgets?: number[];
  /** 0 = greedy */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** a sequence stops (stop text included) when its decoded response ends with one of these */
  stop?: string[];
  /** token ids that end a sequence (eos, end-of-turn); the one drawn is the last of the output's tokens */
  stopTokens?: number[];
  seed?: number;
}

/** Why a sampled sequence ended: a stop token, a stop string, or the token budget / context. */
export type FinishReason = "stop" | "stop_string" | "length";

export interface SampleResult {
  /** generated token ids (prompt excluded); ends with the stop token when finish = "stop" */
  tokens: number[];
  /** the decoded response, without the stop token */
  text: string;
  /** log-prob of each generated token at the sampling temperature, log_softmax(logits / T) (T = 0: untempered) */
  logp: number[];
  /** entropy of that tempered next-token distribution at each generated token */
  entropy: number[];
  /** true when maxNewTokens or the context ran out before a stop (finish = "length") */
  truncated: boolean;
  finish: FinishReason;
}
