/**
 * `stepwise export CHECKPOINT_OR_RUN DEST`: copies a checkpoint's weights, config and tokenizer
 * (not the optimizer state) to DEST, with a state.json saying where it came from, so that a spec
 * can start from it with `model load "DEST"`. Given a run directory, takes its final checkpoint.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readJsonFile } from "../io/json.js";

const FILES = ["config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"];

export function exportCheckpoint(source: string, dest: string): string {
  let dir = path.resolve(source);
  if (!fs.existsSync(path.join(dir, "config.json")) && fs.existsSync(path.join(dir, "checkpoints", "final", "config.json"))) {
    dir = path.join(dir, "checkpoints", "final");
  }
  if (!fs.existsSync(path.join(dir, "config.json"))) throw new Error(`${source}: no checkpoint here (no config.json, nor checkpoints/final/config.json)`);
  fs.mkdirSync(dest, { recursive: true });
  const copied: string[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (FILES.includes(f) || /^model-\d+-of-\d+\.safetensors$/.test(f)) {
      fs.copyFileSync(path.join(dir, f), path.join(dest, f));
      copied.push(f);
    }
  }
  const state = (fs.existsSync(path.join(dir, "state.json")) ? readJsonFile(path.join(dir, "state.json")) : {}) as { plan?: string; elapsed?: number };
  fs.writeFileSync(path.join(dest, "state.json"), JSON.stringify({ exportedFrom: state.plan ?? path.basename(path.dirname(path.dirname(dir))), elapsed: state.elapsed }, null, 2) + "\n");
  return `exported ${copied.join(", ")} to ${dest}`;
}
