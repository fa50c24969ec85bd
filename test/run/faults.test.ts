/**
 * Crash-safety: a child `stepwise run` killed (SIGKILL, src/faults.ts STEPWISE_FAULT) at each
 * instrumented point, or failing on a full disk, then resumed with `--resume`, writes exactly what
 * an uninterrupted run writes: the same metrics.jsonl and steps.jsonl rows in the same order
 * (every field but timing and throughput), the same rollouts, byte-equal final weights.
 *
 * One multi-stage plan (sft, rl with eval_every, a second sft) covers every stage; `--iterations`
 * and `--checkpoint-every` are given only at the start and must survive the resume.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAIN = path.join(REPO, "src", "cli", "main.ts");

const SPEC = `experiment "faults"
seed 5
model gpt { layers 1, width 16, heads 2, context 40 }
tokenizer chars
task arithmetic { operands 2..2, values 1..5, operators "+", verbosity 0.5, slips 0 }
steps split "\\n"
advantage = outcome - 0.5
sampler standard { temperature 1, max_tokens 14 }
train {
  sft { steps 4, lr 3e-3, batch 4 }
  rl { iterations 9, prompts 2, group 2, eval_every 2 }
  sft { steps 3, lr 1e-3, batch 4 }
}
eval { prompts 2, max_tokens 14 }
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-faults-"));
const specFile = path.join(root, "faults.sw");
fs.writeFileSync(specFile, SPEC);

function stepwise(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, ...env, STEPWISE_FAULT: env.STEPWISE_FAULT ?? "" },
    timeout: 300_000,
  });
}

/** The first run's flags: overrides that the resume must take from run.json. */
const START = ["--iterations", "4", "--checkpoint-every", "2"];

function start(dir: string, backend: string, fault?: string) {
  return stepwise(["run", specFile, "--backend", backend, "--out", dir, ...START], fault ? { STEPWISE_FAULT: fault } : {});
}

const lines = (file: string): Record<string, unknown>[] =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l)) : [];
/** A row without its timing and throughput fields. */
const untimed = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "time" && !k.startsWith("throughput/") && !k.startsWith("time/"))));

function assertSameRun(got: string, want: string, what: string): void {
  const g = path.join(got, "faults");
  const w = path.join(want, "faults");
  assert.deepEqual(untimed(lines(path.join(g, "metrics.jsonl"))), untimed(lines(path.join(w, "metrics.jsonl"))), `${what}: metrics.jsonl`);
  assert.deepEqual(untimed(lines(path.join(g, "steps.jsonl"))), untimed(lines(path.join(w, "steps.jsonl"))), `${what}: steps.jsonl`);
  const rollouts = fs.readdirSync(path.join(w, "rollouts")).sort();
  assert.deepEqual(fs.readdirSync(path.join(g, "rollouts")).sort(), rollouts, `${what}: rollouts files`);
  for (const f of rollouts) {
    assert.equal(fs.readFileSync(path.join(g, "rollouts", f), "utf8"), fs.readFileSync(path.join(w, "rollouts", f), "utf8"), `${what}: rollouts/${f}`);
  }
  for (const f of ["model.safetensors", "optimizer.safetensors"]) {
    const a = fs.readFileSync(path.join(g, "checkpoints", "final", f));
    const b = fs.readFileSync(path.join(w, "checkpoints", "final", f));
    assert.ok(a.equals(b), `${what}: checkpoints/final/${f} is not byte-equal`);
  }
  const left = fs.readdirSync(path.join(g, "checkpoints")).filter((f) => f.includes(".tmp-"));
  assert.deepEqual(left, [], `${what}: stale temporaries are removed`);
  const info = JSON.parse(fs.readFileSync(path.join(g, "run.json"), "utf8"));
  assert.equal(info.status, "finished", what);
  assert.equal(info.options.iterations, 4, `${what}: --iterations is recorded`);
}

// [point, what the kill interrupts]
const KILLS: [string, string][] = [
  ["sft-step:2", "during SFT, before the first checkpoint"],
  ["sample:120", "mid-sampling"],
  ["optimizer:7", "inside the optimizer step (half the parameters updated)"],
  ["checkpoint-swap:2", "between the checkpoint swap's two renames"],
  ["rollouts:3", "right after a rollouts file is written"],
  ["sft-step:6", "in the second SFT stage (after rl)"],
];

for (const backend of ["cpu", "wasm"]) {
  test(`${backend}: a run killed at any instrumented point, then resumed, equals the uninterrupted run`, { timeout: 900_000 }, () => {
    const want = path.join(root, `${backend}-whole`);
    const whole = start(want, backend);
    assert.equal(whole.status, 0, whole.stderr);
    assert.deepEqual(
      lines(path.join(want, "faults", "metrics.jsonl")).filter((r) => r.stage === "eval").map((r) => r.after),
      ["init", "sft", "rl@2", "rl", "sft"],
      "the plan's evaluations, rl@N included",
    );
    // the wasm backend gets the two hardest cases (swap and mid-RL kill); cpu all of them
    const cases = backend === "cpu" ? KILLS : KILLS.filter(([p]) => p.startsWith("checkpoint-swap") || p.startsWith("optimizer"));
    for (const [fault, what] of cases) {
      const got = path.join(root, `${backend}-${fault.replace(/:/g, "-")}`);
      const killed = start(got, backend, fault);
      assert.equal(killed.signal, "SIGKILL", `${fault} (${what}) was reached: ${killed.stderr.slice(-400)}`);
      const resumed = stepwise(["run", "--resume", path.join(got, "faults")]);
      assert.equal(resumed.status, 0, `${fault}: resume failed: ${resumed.stderr.slice(-1200)}`);
      // the killed run's lock (src/run/run-lock.ts) is found dead and taken over, with one line saying so
      assert.match(resumed.stderr, /^warning: .*faults: took over the lock of pid \d+ .*which is no longer running$/m, fault);
      assertSameRun(got, want, `${backend} ${fault} (${what})`);
    }
  });
}

test("a full disk (ENOSPC) fails the run naming the file, run.json says failed; freed, it resumes to the same result", { timeout: 600_000 }, () => {
  const want = path.join(root, "cpu-whole");
  if (!fs.existsSync(path.join(want, "faults", "run.json"))) assert.equal(start(want, "cpu").status, 0);
  const got = path.join(root, "cpu-enospc");
  const full = start(got, "cpu", "write:12:enospc");
  assert.equal(full.status, 1, full.stderr);
  assert.match(full.stderr, /faults[\\/][^\s:]+: (writing|appending) failed: no space left on the device \(the disk is full\)/);
  const info = JSON.parse(fs.readFileSync(path.join(got, "faults", "run.json"), "utf8"));
  assert.equal(info.status, "failed");
  assert.match(info.message, /no space left/);
  const resumed = stepwise(["run", "--resume", path.join(got, "faults")]);
  assert.equal(resumed.status, 0, resumed.stderr.slice(-1200));
  assertSameRun(got, want, "enospc");
});

test("a resume refuses an override different from the one the run was started with", { timeout: 300_000 }, () => {
  const want = path.join(root, "cpu-whole");
  if (!fs.existsSync(path.join(want, "faults", "run.json"))) assert.equal(start(want, "cpu").status, 0);
  const r = stepwise(["run", "--resume", path.join(want, "faults"), "--iterations", "7"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /run\.json: this run was started with --iterations 4; resume it with the same \(or without --iterations\)/);
});
