/**
 * One optimisation step shared by every stage (SFT, RL, DPO, step-DPO): gradients of a loss over
 * the model's trainable variables, a finiteness check, then the optimizer's (clipped) update.
 * A non-finite loss or gradient stops before the update is applied, so the weights stay the
 * last good ones and the runner can keep its checkpoint.
 */
import * as tf from "@tensorflow/tfjs-core";
import "../backend/gradients.js"; // the gradients of the core ops (tfjs-core registers none)
import type { AdamW } from "./optimizer.js";
import type { Transformer } from "../model/transformer.js";

export class NonFiniteError extends Error {
  constructor(what: string, value: number) {
    super(`${what} is ${value}: stopping before the update (the last good checkpoint is kept). Lower the learning rate, or check the rewards for NaN.`);
    this.name = "NonFiniteError";
  }
}

export interface UpdateResult {
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
}

/** Computes `lossFn`'s gradients, checks them, and applies one AdamW step at learning rate `lr`. */
export function applyUpdate(model: Transformer, optimizer: AdamW, lossFn: () => tf.Scalar, lr: number): UpdateResult {
  const { value, grads } = tf.variableGrads(lossFn, model.trainableVariables());
  try {
    const loss = value.dataSync()[0]!;
    if (!Number.isFinite(loss)) throw new NonFiniteError("the loss", loss);
    const info = optimizer.step(grads, lr);
    if (!info.applied) throw new NonFiniteError("the gradient norm", info.gradNorm);
    return { loss, gradNorm: info.gradNorm };
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}
