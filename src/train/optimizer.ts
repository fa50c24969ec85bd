/**
 * AdamW with global-norm gradient clipping, over named tf.Variables.
 *
 * AdamW: Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019), Algorithm 2,
 * in PyTorch's form (torch.optim.AdamW), so numbers match a PyTorch run step for step:
 *   m_t = b1 m_{t-1} + (1 - b1) g_t                         (Alg. 2 line 7)
 *   v_t = b2 v_{t-1} + (1 - b2) g_t^2                       (line 8)
 *   m^_t = m_t / (1 - b1^t),  v^_t = v_t / (1 - b2^t)       (lines 9-10, bias correction)
 *   theta_t = theta_{t-1} (1 - lr wd) - lr m^_t / (sqrt(v^_t) + eps)   (line 12, decay decoupled from the gradient)
 *
 * Weight-decay rule (as nanoGPT and most LLM recipes): only matrices that multiply activations
 * decay. Parameters of rank < 2 (biases, LayerNorm/RMSNorm gains) and embeddings (token and
 * position tables) do not: decaying a norm gain or a bias pulls it toward 0, which changes what
 * the layer computes rather than regularising it, and rare tokens' embeddings would decay toward
 * 0 between their few updates. An untied output head (lm_head) is a linear layer and decays.
 */
import * as tf from "@tensorflow/tfjs-core";
import { faultPoint } from "../faults.js";

export interface AdamWOptions {
  /** 0.9: the usual momentum horizon of ~10 steps (Kingma & Ba 2015) */
  beta1?: number;
  /** 0.95: shorter second-moment memory than Adam's 0.999, more stable for transformers with spiky gradients (GPT-3, Llama) */
  beta2?: number;
  /** 1e-8: only guards the division; small enough not to damp updates of f32 weights */
  eps?: number;
  /** 0.1: decoupled decay used for GPT-3 and Llama pre-training; 0 disables */
  weightDecay?: number;
  /** 1.0: clip the global gradient norm to this (GPT-3, Llama); 0 or Infinity disables clipping */
  maxGradNorm?: number;
  /** override the decay rule: true = this parameter gets no weight decay */
  noDecay?: (name: string, variable: tf.Variable) => boolean;
}

/** What an optimizer checkpoint holds: the step count and both moments per parameter name. */
export interface AdamWState {
  /** optimizer steps taken (t in the bias correction) */
  step: number;
  /** first moments m_t, by parameter name */
  m: Map<string, tf.Tensor>;
  /** second moments v_t, by parameter name */
  v: Map<string, tf.Tensor>;
}

/** Returned by step(). */
export interface StepInfo {
  /** global L2 norm of the gradients before clipping */
  gradNorm: number;
  /** true when the gradients were scaled down */
  clipped: boolean;
  /** false when the norm was not finite and the update was skipped (moments and step unchanged) */
  applied: boolean;
}

const EMBEDDING_NAME = /(^|\.)(wte|wpe|embed_tokens|embed_positions|embeddings?)(\.|$)/;

/** The default decay rule (see the file comment): true when `name` gets weight decay. */
export function decays(name: string, shape: readonly number[]): boolean {
  if (shape.length < 2) return false; // biases, norm gains
  if (EMBEDDING_NAME.test(name)) return false; // token / position tables
  return true;
}

/** Global L2 norm of a list of tensors: sqrt(sum_i ||g_i||^2) (Pascanu et al. 2013, eq. 4's ||g||). */
export function globalNorm(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (tensors.length === 0) return tf.scalar(0);
    const sq = tensors.map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(tf.addN(sq)) as tf.Scalar;
  });
}

/**
 * Clip scale for a given global norm, as torch.nn.utils.clip_grad_norm_:
 * min(1, maxNorm / (norm + 1e-6)).
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm) || norm <= maxNorm) return 1;
  return maxNorm / (norm + 1e-6);
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** parameter names, in order */
  readonly names: string[];
  private readonly params = new Map<string, tf.Variable>();
  /** variable.name -> parameter name, so grads from tf.variableGrads (keyed by variable.name) are accepted */
  private readonly byVarName = new Map<string, string>();
  private readonly decay = new Map<string, boolean>();
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  /**
   * @param params a ParamMap (name -> variable) or a list of variables (named by variable.name)
   * @example
   *   const opt = new AdamW(model.params, { weightDecay: 0.1 });
   *   const { grads } = tf.variableGrads(() => loss());
   *   const { gradNorm } = opt.step(grads, schedule(opt.stepCount));
   *   tf.dispose(grads);
   */
  constructor(params: Map<string, tf.Variable> | tf.Variable[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
    this.maxGradNorm = opts.maxGradNorm ?? 1.0;
    if (!(this.beta1 >= 0 && this.beta1 < 1)) throw new Error(`AdamW: beta1 must be in [0, 1), got ${this.beta1}`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw new Error(`AdamW: beta2 must be in [0, 1), got ${this.beta2}`);
    if (!(this.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${this.weightDecay}`);
    const entries: [string, tf.Variable][] = Array.isArray(params) ? params.map((p) => [p.name, p]) : [...params];
    for (const [name, p] of entries) {
      if (this.params.has(name)) throw new Error(`AdamW: parameter "${name}" given twice`);
      this.params.set(name, p);
      this.byVarName.set(p.name, name);
      const noDecay = opts.noDecay ? opts.noDecay(name, p) : !decays(name, p.shape);
      this.decay.set(name, !noDecay);
      // tidy frees the zeros once the variables hold their own copy
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
    this.names = entries.map(([n]) => n);
  }

  /** Optimizer steps taken so far (t of the last update). */
  get stepCount(): number {
    return this.t;
  }

  /** Whether a parameter gets weight decay under this optimizer's rule. */
  decaysParam(name: string): boolean {
    return this.decay.get(name) ?? false;
  }

  /**
   * One AdamW update with learning rate `lr`. Gradients are keyed by parameter name (or by
   * variable.name); a parameter without a gradient is left untouched. The caller keeps ownership
   * of `grads` (dispose them after). Returns the pre-clip global norm.
   */
  step(grads: Map<string, tf.Tensor> | tf.NamedTensorMap, lr: number): StepInfo {
    const pairs: [string, tf.Tensor][] = [];
    const it = grads instanceof Map ? grads.entries() : Object.entries(grads);
    for (const [key, g] of it) {
      const name = this.params.has(key) ? key : this.byVarName.get(key);
      if (name === undefined) throw new Error(`AdamW.step: gradient "${key}" matches no parameter`);
      const p = this.params.get(name)!;
      if (!sameShape(g.shape, p.shape)) {
        throw new Error(`AdamW.step: gradient "${key}" has shape [${g.shape}] but the parameter has [${p.shape}]`);
      }
      pairs.push([name, g]);
    }
    // 1) global norm over all gradients, before clipping
    const normT = globalNorm(pairs.map(([, g]) => g));
    const gradNorm = normT.dataSync()[0]!;
    normT.dispose();
    if (!Number.isFinite(gradNorm)) return { gradNorm, clipped: false, applied: false };
    // 2) clip: scale every gradient by min(1, maxNorm / (norm + 1e-6))
    const scale = clipScale(gradNorm, this.maxGradNorm);
    // 3) AdamW update per parameter (equations in the file comment)
    this.t += 1;
    const t = this.t;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const stepSize = lr / (1 - b1 ** t); // lr / bias correction 1
    const sqrtBc2 = Math.sqrt(1 - b2 ** t); // sqrt(bias correction 2)
    for (const [i, [name, grad]] of pairs.entries()) {
      if (i === pairs.length >> 1) faultPoint("optimizer"); // crash-safety tests: die mid-update
      const p = this.params.get(name)!;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const decayFactor = this.decay.get(name) ? 1 - lr * this.weightDecay : 1;
      tf.tidy(() => {
        const g = scale === 1 ? grad : tf.mul(grad, scale);
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)); // m_t
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)); // v_t
        m.assign(m1);
        v.assign(v1);
        // PyTorch's order: denom = sqrt(v_t) / sqrt(1 - b2^t) + eps; update = stepSize * m_t / denom
        const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), this.eps);
        const upd = tf.mul(tf.div(m1, denom), stepSize);
        const decayed = decayFactor === 1 ? p : tf.mul(p, decayFactor);
        p.assign(tf.sub(decayed, upd));
      });
    }
    return { gradNorm, clipped: scale !== 1, applied: true };
  }

  /** A copy of the state (the caller owns and disposes the tensors). */
  getState(): AdamWState {
    const m = new Map<string, tf.Tensor>();
    const v = new Map<string, tf.Tensor>();
    for (const name of this.names) {
      m.set(name, this.m.get(name)!.clone());
      v.set(name, this.v.get(name)!.clone());
    }
    return { step: this.t, m, v };
  }

  /**
   * Restore a state (values are copied; the caller keeps ownership of `state`).
   * Every parameter must have both moments, with its shape.
   */
  setState(state: AdamWState): void {
    for (const name of this.names) {
      const p = this.params.get(name)!;
      for (const [which, src] of [["m", state.m], ["v", state.v]] as const) {
        const t = src.get(name);
        if (!t) throw new Error(`AdamW.setState: no ${which} for parameter "${name}"`);
        if (!sameShape(t.shape, p.shape)) {
          throw new Error(`AdamW.setState: ${which} of "${name}" has shape [${t.shape}] but the parameter has [${p.shape}]`);
        }
      }
    }
    for (const key of [...state.m.keys(), ...state.v.keys()]) {
      if (!this.params.has(key)) throw new Error(`AdamW.setState: state for "${key}" matches no parameter`);
    }
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new Error(`AdamW.setState: step must be a non-negative integer, got ${state.step}`);
    for (const name of this.names) {
      this.m.get(name)!.assign(state.m.get(name)!);
      this.v.get(name)!.assign(state.v.get(name)!);
    }
    this.t = state.step;
  }

  /** Free the moment variables (the parameters belong to the model). */
  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Dispose every tensor of a state returned by getState(). */
export function disposeState(state: AdamWState): void {
  for (const x of [...state.m.values(), ...state.v.values()]) x.dispose();
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
