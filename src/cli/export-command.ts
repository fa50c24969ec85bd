/**
 * `stepwise export CHECKPOINT_OR_RUN DEST`: copies a checkpoint's weights, config and tokenizer
 * (not the optimizer state) to DEST, with a state.json saying where it came from, so that a spec
 * can start from it with `model load "DEST"`. Given a run directory, takes its final checkpoint.
 * DEST has one writer at a time (src/run/run-lock.ts): a DEST that a live process owns, or that
 * lies inside a directory one owns (runs/x/checkpoints/final of a run in progress), is refused
 * before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readJsonFile } from "../io/json.js";
import { liveOwnerAbove, lockDir } from "../run/run-lock.js";

const FILES = ["config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"];

/** `notice`: where a line about a dead owner's lock taken over goes (stderr by default). */
export function exportCheckpoint(source: string, dest: string, notice: (line: string) => void = (l) => void process.stderr.write(`warning: ${l}\n`)): string {
  let dir = path.resolve(source);
  if (!fs.existsSync(path.join(dir, "config.json")) && fs.existsSync(path.join(dir, "checkpoints", "final", "config.json"))) {
    dir = path.join(dir, "checkpoints", "final");
  }
  if (!fs.existsSync(path.join(dir, "config.json"))) throw new Error(`${source}: no checkpoint here (no config.json, nor checkpoints/final/config.json)`);
  const above = liveOwnerAbove(path.dirname(path.resolve(dest)));
  if (above) throw new Error(`${dest}: inside ${above.message}`);
  const lock = lockDir(dest);
  if (lock.tookOver) notice(lock.tookOver);
  try {
    return copyCheckpoint(dir, dest);
  } finally {
    lock.release();
  }
}

function copyCheckpoint(dir: string, dest: string): string {
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
