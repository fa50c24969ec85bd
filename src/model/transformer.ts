/**
 * One decoder-only transformer for both families (DESIGN.md, "model"):
 * - "gpt2": learned positions, pre-LayerNorm, GELU MLP, tied head (Radford et al. 2019).
 * - "llama": RoPE (Su et al. 2021; Llama 3.1's scaling, src/model/rope.ts), RMSNorm (Zhang &
 *   Sennrich 2019), SwiGLU (Shazeer 2020), grouped-query attention (Ainslie et al. 2023), optional
 *   qkv bias (Qwen2), optional per-head q/k RMSNorm and a head width of its own (Qwen3), tied or
 *   untied head.
 *
 * Parameters are tf.Variables keyed by Hugging Face names. Linear weights are stored [in, out]
 * (so every product is x[N,in] @ W[in,out], the wasm fast path); `hfLayout` lists, for every
 * parameter, its HF shape and whether it is transposed between the HF file and this layout:
 * GPT-2's Conv1D weights are already [in, out] (no transpose); Llama/Qwen2 nn.Linear weights are
 * [out, in] (transpose); embeddings are [vocab, width] in both (no transpose); an untied
 * lm_head is [vocab, width] in HF and [width, vocab] here (transpose).
 *
 * Speed on the wasm backend comes mostly from src/backend (matrix products on the native BLAS or
 * XNNPACK) and from src/model/ops.ts (GELU, the norms and attention as fused native kernels where
 * the addon is loaded, each with its composed formula elsewhere); here: RoPE's rotate-half as a
 * product with a fixed signed permutation for the composed path, the attention mask built once
 * per forward pass, and activations kept in the projections' [B, T, heads, hd] layout (no transposes).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ModelConfig, ParamMap, ScoreOptions, TokenScores } from "./types.js";
import { headDimOf, validateConfig } from "./config.js";
import { ropeInvFreq, ropeTables } from "./rope.js";
import { AttentionMask, attention, gelu, layerNorm, linear, rmsNorm, rope, swiglu } from "./ops.js";
import type { KVCache } from "./kv-cache.js";

/** One parameter: its name, shape here and in the HF file, and its initialisation. */
export interface ParamSpec {
  name: string;
  /** shape of the tf.Variable in this model */
  shape: number[];
  /** shape in a Hugging Face safetensors file */
  hfShape: number[];
  /** true when the HF tensor is the 2-D transpose of ours (read: transpose; write: transpose back) */
  transpose: boolean;
  init: "normal" | "residual" | "zeros" | "ones";
}

export interface ForwardOptions {
  /** per sequence, the position id of each input token (default 0..T-1 after the cache) */
  positions?: number[][];
  /** [B * Tk] flattened, 1 = a real key, 0 = padding (cached and new keys); default all real */
  keyMask?: Float32Array;
  /**
   * keys/values of earlier positions (sampling): the new tokens follow its `length` positions,
   * and their keys/values are added to it (the caller calls cache.advance(T) after)
   */
  cache?: KVCache;
}

export interface ForwardResult {
  /** [B, T, width], after the final norm */
  hidden: tf.Tensor3D;
}

const INIT_STD = 0.02; // GPT-2 / Llama initializer_range

/** Every parameter of a config, in a fixed order (the order of initialisation seeds). */
export function hfLayout(c: ModelConfig): ParamSpec[] {
  const d = c.width, hd = headDimOf(c), f = c.ffnWidth, V = c.vocabSize;
  const out: ParamSpec[] = [];
  const p = (name: string, shape: number[], init: ParamSpec["init"], transpose = false) =>
    out.push({ name, shape, hfShape: transpose ? [shape[1], shape[0]] : shape, transpose, init });
  if (c.family === "gpt2") {
    p("wte.weight", [V, d], "normal");
    p("wpe.weight", [c.contextLength, d], "normal");
    for (let i = 0; i < c.layers; i++) {
      const h = `h.${i}`;
      p(`${h}.ln_1.weight`, [d], "ones");
      p(`${h}.ln_1.bias`, [d], "zeros");
      p(`${h}.attn.c_attn.weight`, [d, 3 * d], "normal");
      p(`${h}.attn.c_attn.bias`, [3 * d], "zeros");
      p(`${h}.attn.c_proj.weight`, [d, d], "residual");
      p(`${h}.attn.c_proj.bias`, [d], "zeros");
      p(`${h}.ln_2.weight`, [d], "ones");
      p(`${h}.ln_2.bias`, [d], "zeros");
      p(`${h}.mlp.c_fc.weight`, [d, f], "normal");
      p(`${h}.mlp.c_fc.bias`, [f], "zeros");
      p(`${h}.mlp.c_proj.weight`, [f, d], "residual");
      p(`${h}.mlp.c_proj.bias`, [d], "zeros");
    }
    p("ln_f.weight", [d], "ones");
    p("ln_f.bias", [d], "zeros");
  } else {
    const q = c.heads * hd, kv = c.kvHeads * hd;
    p("model.embed_tokens.weight", [V, d], "normal");
    for (let i = 0; i < c.layers; i++) {
      const L = `model.layers.${i}`;
      p(`${L}.input_layernorm.weight`, [d], "ones");
      p(`${L}.self_attn.q_proj.weight`, [d, q], "normal", true);
      if (c.qkvBias) p(`${L}.self_attn.q_proj.bias`, [q], "zeros");
      p(`${L}.self_attn.k_proj.weight`, [d, kv], "normal", true);
      if (c.qkvBias) p(`${L}.self_attn.k_proj.bias`, [kv], "zeros");
      p(`${L}.self_attn.v_proj.weight`, [d, kv], "normal", true);
      if (c.qkvBias) p(`${L}.self_attn.v_proj.bias`, [kv], "zeros");
      p(`${L}.self_attn.o_proj.weight`, [q, d], "residual", true);
      if (c.qkNorm) {
        p(`${L}.self_attn.q_norm.weight`, [hd], "ones");
        p(`${L}.self_attn.k_norm.weight`, [hd], "ones");
      }
      p(`${L}.post_attention_layernorm.weight`, [d], "ones");
      p(`${L}.mlp.gate_proj.weight`, [d, f], "normal", true);
      p(`${L}.mlp.up_proj.weight`, [d, f], "normal", true);
      p(`${L}.mlp.down_proj.weight`, [f, d], "residual", true);
    }
    p("model.norm.weight", [d], "ones");
  }
  if (!c.tieEmbeddings) p("lm_head.weight", [d, V], "normal", true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// building blocks

/** [hd, hd] signed permutation R with x @ R = rotate_half(x) = cat(-x[hd/2:], x[:hd/2]) (HF Llama). */
function rotateHalfMatrix(hd: number): tf.Tensor2D {
  const h = hd / 2, r = new Float32Array(hd * hd);
  for (let j = 0; j < h; j++) r[(j + h) * hd + j] = -1;
  for (let j = h; j < hd; j++) r[(j - h) * hd + j] = 1;
  return tf.tensor2d(r, [hd, hd]);
}

// ---------------------------------------------------------------------------------------------

let uid = 0;

export class Transformer {
  readonly config: ModelConfig;
  readonly params: ParamMap;
  readonly trainable: boolean;
  private readonly rotate: tf.Tensor2D | null;
  /** RoPE inverse frequencies (llama family) */
  private readonly invFreq: Float32Array | null;
  private disposed = false;

  private constructor(config: ModelConfig, params: ParamMap, trainable: boolean) {
    this.config = config;
    this.params = params;
    this.trainable = trainable;
    this.rotate = config.family === "llama" ? tf.keep(rotateHalfMatrix(headDimOf(config))) : null;
    this.invFreq = config.family === "llama" ? ropeInvFreq(config) : null;
  }

  /** A freshly initialised model, deterministic from config.seed. */
  static create(config: ModelConfig): Transformer {
    validateConfig(config);
    const id = uid++;
    const residualStd = INIT_STD / Math.sqrt(2 * config.layers); // GPT-2 paper, sec. 2.3
    const params: ParamMap = new Map();
    hfLayout(config).forEach((s, i) => {
      const init = tf.tidy(() => {
        switch (s.init) {
          case "ones": return tf.ones(s.shape);
          case "zeros": return tf.zeros(s.shape);
          default:
            return tf.randomNormal(s.shape, 0, s.init === "residual" ? residualStd : INIT_STD, "float32", config.seed * 100003 + i);
        }
      });
      params.set(s.name, tf.variable(init, true, `m${id}/${s.name}`));
      init.dispose();
    });
    return new Transformer(config, params, true);
  }

  /**
   * A model over given tensors, in this model's layout (see hfLayout: transpose HF tensors whose
   * spec says so first). The tensors are copied into new variables; the caller keeps its own.
   */
  static fromParams(config: ModelConfig, tensors: Map<string, tf.Tensor>, trainable = true): Transformer {
    validateConfig(config);
    const specs = hfLayout(config);
    const missing = specs.filter((s) => !tensors.has(s.name)).map((s) => s.name);
    if (missing.length) throw new Error(`model parameters missing: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`);
    const known = new Set(specs.map((s) => s.name));
    const extra = [...tensors.keys()].filter((k) => !known.has(k));
    if (extra.length) throw new Error(`unexpected model parameters for a ${config.family} config: ${extra.slice(0, 5).join(", ")}`);
    const id = uid++;
    const params: ParamMap = new Map();
    for (const s of specs) {
      const t = tensors.get(s.name)!;
      if (t.shape.length !== s.shape.length || t.shape.some((n, i) => n !== s.shape[i])) {
        for (const v of params.values()) v.dispose();
        throw new Error(`parameter ${s.name}: shape [${t.shape}] but the config needs [${s.shape}]`);
      }
      params.set(s.name, tf.variable(t.dtype === "float32" ? t : tf.tidy(() => tf.cast(t, "float32")), trainable, `m${id}/${s.name}`));
    }
    return new Transformer(config, params, trainable);
  }

  /** The variables an optimizer updates (empty for a frozen copy). */
  trainableVariables(): tf.Variable[] {
    return this.trainable ? [...this.params.values()] : [];
  }

  /** A copy with its own variables; frozen (the RL reference model) unless trainable. */
  clone(trainable = false): Transformer {
    return Transformer.fromParams(this.config, this.params as Map<string, tf.Tensor>, trainable);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    this.rotate?.dispose();
  }

  private w(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Output head as [width, vocab]: the transposed token embedding when tied. */
  headWeight(): tf.Tensor2D {
    const c = this.config;
    if (!c.tieEmbeddings) return this.w("lm_head.weight") as tf.Tensor as tf.Tensor2D;
    return tf.transpose(this.w(c.family === "gpt2" ? "wte.weight" : "model.embed_tokens.weight")) as tf.Tensor2D;
  }

  /**
   * hidden [N, width] -> logits [N, vocab]. Tied: a product with the embedding's transpose
   * (matMul's transposeB), so no transposed copy of a large embedding is made; on wasm a few rows
   * (decoding) stream the embedding through XNNPACK without packing it (src/backend/wasm-kernels.ts).
   * `headW` (a headWeight()) is still accepted.
   */
  head(hidden: tf.Tensor2D, headW?: tf.Tensor2D): tf.Tensor2D {
    if (headW) return tf.matMul(hidden, headW);
    const c = this.config;
    if (!c.tieEmbeddings) return tf.matMul(hidden, this.w("lm_head.weight") as tf.Tensor as tf.Tensor2D);
    const emb = this.w(c.family === "gpt2" ? "wte.weight" : "model.embed_tokens.weight") as tf.Tensor as tf.Tensor2D;
    return tf.matMul(hidden, emb, false, true); // [N, d] @ E[V, d]^T -> [N, V]
  }

  /** The decoder stack: token ids [B, T] -> final hidden states [B, T, width], plus keys/values. */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [B, T] = tokens.shape;
    const d = c.width, H = c.heads, KV = c.kvHeads, hd = headDimOf(c);
    const Tp = opts.cache?.length ?? 0;
    const mask = new AttentionMask(B, T, Tp, opts.keyMask); // every layer's
    const positions = opts.positions ?? (Tp === 0 ? null : [Array.from({ length: T }, (_, i) => Tp + i)]);
    let maxPos = Tp + T - 1;
    if (positions) { maxPos = 0; for (const r of positions) for (const p of r) if (p > maxPos) maxPos = p; } // no spread: rows may be long
    if (maxPos >= c.contextLength) throw new Error(`position ${maxPos} is beyond the model's context (${c.contextLength} tokens)`);
    const flat = tf.reshape(tokens, [B * T]);
    let x: tf.Tensor2D; // residual stream [B*T, d]
    let ropeCS: [tf.Tensor4D, tf.Tensor4D] | null = null; // cos, sin
    if (c.family === "gpt2") {
      const tok = tf.gather(this.w("wte.weight"), flat); // [B*T, d]
      let pos: tf.Tensor;
      if (positions) {
        const ids = positions.length === 1 && B > 1 ? Array.from({ length: B }, () => positions[0]) : positions;
        pos = tf.gather(this.w("wpe.weight"), tf.tensor1d(ids.flat(), "int32")); // [B*T, d]
      } else {
        // a gather, not a tile of the first T rows: wasm's Tile is a slow scalar loop, and the
        // gather's gradient is one scatter-add
        pos = tf.gather(this.w("wpe.weight"), tf.tensor1d(Int32Array.from({ length: B * T }, (_, i) => i % T), "int32"));
      }
      x = tf.add(tok, pos) as tf.Tensor2D;
    } else {
      x = tf.gather(this.w("model.embed_tokens.weight"), flat) as tf.Tensor2D;
      ropeCS = ropeTables(positions ?? [Array.from({ length: T }, (_, i) => i)], this.invFreq!);
    }
    // [B*T, n*hd] -> [B, T, n, hd]: a reshape, no copy (ops.attention takes this layout)
    const heads = (t: tf.Tensor, n: number) => tf.reshape(t, [B, T, n, hd]) as tf.Tensor4D;
    const applyRope = (t: tf.Tensor4D) => rope(t, ropeCS![0], ropeCS![1], this.rotate!);
    for (let l = 0; l < c.layers; l++) {
      // 1) attention sub-block (pre-norm)
      let q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, h: tf.Tensor2D;
      if (c.family === "gpt2") {
        const p = `h.${l}`;
        h = layerNorm(x, this.w(`${p}.ln_1.weight`), this.w(`${p}.ln_1.bias`), c.normEps);
        const qkv = linear(h, this.w(`${p}.attn.c_attn.weight`), this.w(`${p}.attn.c_attn.bias`)); // [B*T, 3d]
        const [qs, ks, vs] = tf.split(qkv, 3, 1);
        [q, k, v] = [heads(qs, H), heads(ks, H), heads(vs, H)];
      } else {
        const p = `model.layers.${l}`;
        h = rmsNorm(x, this.w(`${p}.input_layernorm.weight`), c.normEps);
        const bias = (n: string) => (c.qkvBias ? this.w(`${p}.self_attn.${n}.bias`) : undefined);
        q = heads(linear(h, this.w(`${p}.self_attn.q_proj.weight`), bias("q_proj")), H);
        k = heads(linear(h, this.w(`${p}.self_attn.k_proj.weight`), bias("k_proj")), KV);
        if (c.qkNorm) {
          // Qwen3: RMSNorm over each head's hd channels, before RoPE
          q = rmsNorm(q, this.w(`${p}.self_attn.q_norm.weight`), c.normEps);
          k = rmsNorm(k, this.w(`${p}.self_attn.k_norm.weight`), c.normEps);
        }
        q = applyRope(q);
        k = applyRope(k);
        v = heads(linear(h, this.w(`${p}.self_attn.v_proj.weight`), bias("v_proj")), KV);
      }
      let kvHeadMajor = false;
      if (opts.cache) ({ k, v, headMajor: kvHeadMajor } = opts.cache.append(l, k, v));
      const o = attention(q, k, v, mask, kvHeadMajor); // [B, T, H, hd]
      const merged = tf.reshape(o, [B * T, H * hd]) as tf.Tensor2D;
      if (c.family === "gpt2") {
        const p = `h.${l}`;
        x = linear(merged, this.w(`${p}.attn.c_proj.weight`), this.w(`${p}.attn.c_proj.bias`), x);
        // 2) MLP sub-block
        const h2 = layerNorm(x, this.w(`${p}.ln_2.weight`), this.w(`${p}.ln_2.bias`), c.normEps);
        const u = gelu(linear(h2, this.w(`${p}.mlp.c_fc.weight`), this.w(`${p}.mlp.c_fc.bias`)));
        x = linear(u as tf.Tensor2D, this.w(`${p}.mlp.c_proj.weight`), this.w(`${p}.mlp.c_proj.bias`), x);
      } else {
        const p = `model.layers.${l}`;
        x = linear(merged, this.w(`${p}.self_attn.o_proj.weight`), undefined, x);
        const h2 = rmsNorm(x, this.w(`${p}.post_attention_layernorm.weight`), c.normEps);
        const u = swiglu(linear(h2, this.w(`${p}.mlp.gate_proj.weight`)), linear(h2, this.w(`${p}.mlp.up_proj.weight`)));
        x = linear(u as tf.Tensor2D, this.w(`${p}.mlp.down_proj.weight`), undefined, x);
      }
    }
    const out = c.family === "gpt2"
      ? layerNorm(x, this.w("ln_f.weight"), this.w("ln_f.bias"), c.normEps)
      : rmsNorm(x, this.w("model.norm.weight"), c.normEps);
    return { hidden: tf.reshape(out, [B, T, d]) };
  }

  /** Next-token logits for every position, [B, T, vocab]. */
  logits(tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape;
      const { hidden } = this.forward(tokens);
      return tf.reshape(this.head(tf.reshape(hidden, [B * T, this.config.width])), [B, T, this.config.vocabSize]);
    });
  }

  /**
   * Per-token log-prob of the actual next token and per-token entropy, [B, T-1] each, one
   * forward pass; differentiable (use inside tf.variableGrads / optimizer.minimize). Sequences are
   * right-padded; positions past a sequence's end hold values for padding, to be masked by the caller.
   * With `entropy: false` the entropy is not computed and is returned as zeros. With
   * `temperature` T the scores are those of the tempered policy, log_softmax(logits / T), the
   * distribution the RL rollouts sample from (TRL's GRPOTrainer and verl's dp_actor divide the
   * logits by the temperature the same way).
   */
  score(tokens: tf.Tensor2D, opts: ScoreOptions = {}): TokenScores {
    const [B, T] = tokens.shape;
    if (T < 2) throw new Error(`score needs sequences of at least 2 tokens, got ${T}`);
    const temperature = opts.temperature ?? 1;
    if (!(temperature > 0)) throw new Error(`score: temperature must be > 0, got ${temperature}`);
    return tf.tidy(() => {
      const { hidden } = this.forward(tokens);
      const N = B * (T - 1), V = this.config.vocabSize;
      const h = tf.reshape(tf.slice(hidden, [0, 0, 0], [B, T - 1, this.config.width]), [N, this.config.width]) as tf.Tensor2D;
      const logits = this.head(h); // [N, V]
      const logp = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature)); // [N, V]
      const next = tf.reshape(tf.slice(tokens, [0, 1], [B, T - 1]), [N]);
      // cast, not oneHot(..., 'float32'): tfjs-backend-wasm 4.22 returns int32 bit patterns for the latter
      const pick = tf.cast(tf.oneHot(tf.cast(next, "int32"), V), "float32");
      const lp = tf.reshape(tf.sum(tf.mul(logp, pick), 1), [B, T - 1]) as tf.Tensor2D;
      const ent = opts.entropy === false
        ? tf.zeros([B, T - 1]) as tf.Tensor2D
        : tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1)), [B, T - 1]) as tf.Tensor2D; // H = -sum p log p
      return { logp: lp, entropy: ent };
    });
  }
}
