/**
 * One writer per run (src/run/run-lock.ts), with real processes: a `stepwise run` stopped
 * (STEPWISE_FAULT=POINT:N:stop, SIGSTOP: alive, holding its lock, writing nothing) while other
 * writers try its directory: a second run, --resume, --overwrite, export, report, `sw.run` are all
 * refused naming its pid, and not one file changes; continued, it ends exactly as a lone run. A
 * lock left by a SIGKILLed run is taken over by --resume with a line saying so; a pid now used by
 * another process counts as dead; two `compare --resume` of one comparison: the second refused.
 * Readers: a torn last line is skipped, never shown.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { compile } from "../../dsl/index.js";
import { loadRun } from "../../src/analytics/tables.js";
import { liveRun } from "../../src/display/live-run.js";
import { RunError } from "../../src/run/rerun.js";
import { DirLockedError, LOCK_FILE, lockDir, processStartTime } from "../../src/run/run-lock.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAIN = path.join(REPO, "src", "cli", "main.ts");

const SPEC = `experiment "locked"
seed 5
model gpt { layers 1, width 16, heads 2, context 40 }
tokenizer chars
task arithmetic { operands 2..2, values 1..5, operators "+", verbosity 0.5, slips 0 }
steps split "\\n"
advantage = outcome - 0.5
sampler standard { temperature 1, max_tokens 14 }
train {
  sft { steps 2, lr 3e-3, batch 4 }
  rl { iterations 4, prompts 2, group 2 }
}
eval { prompts 2, max_tokens 14 }
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
const specFile = path.join(root, "locked.sw");
fs.writeFileSync(specFile, SPEC);
const ARGS = ["--backend", "cpu", "--checkpoint-every", "2"];

function stepwise(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, STEPWISE_FAULT: "", ...env },
    timeout: 300_000,
  });
}

/** A `stepwise` child that stops itself at `fault` (POINT:N:stop); resolves once it is stopped. */
async function stoppedAt(args: string[], fault: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: REPO, env: { ...process.env, STEPWISE_FAULT: fault }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 240_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ended before ${fault}: ${err.slice(-800)}`);
    const stat = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "T") return child;
    if (Date.now() > deadline) throw new Error(`never reached ${fault}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((done) => (child.exitCode !== null ? done(child.exitCode) : child.on("exit", (code) => done(code))));

/** Every file under `dir`: its modification time and content hash. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const f = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out[path.relative(dir, f)] = `${fs.statSync(f).mtimeMs} ${createHash("sha256").update(fs.readFileSync(f)).digest("hex")}`;
  }
  return out;
}

const lines = (file: string): Record<string, unknown>[] =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l)) : [];
const untimed = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "time" && !k.startsWith("throughput/") && !k.startsWith("time/"))));

/** Two run directories hold the same run: rows (timing aside), rollouts, final weights byte-equal, no lock left. */
function assertSameRun(got: string, want: string, what: string): void {
  for (const f of ["metrics.jsonl", "steps.jsonl"]) assert.deepEqual(untimed(lines(path.join(got, f))), untimed(lines(path.join(want, f))), `${what}: ${f}`);
  const rollouts = fs.readdirSync(path.join(want, "rollouts")).sort();
  assert.deepEqual(fs.readdirSync(path.join(got, "rollouts")).sort(), rollouts, `${what}: rollouts`);
  for (const f of rollouts) assert.equal(fs.readFileSync(path.join(got, "rollouts", f), "utf8"), fs.readFileSync(path.join(want, "rollouts", f), "utf8"), `${what}: rollouts/${f}`);
  for (const f of ["model.safetensors", "optimizer.safetensors"]) {
    assert.ok(fs.readFileSync(path.join(got, "checkpoints", "final", f)).equals(fs.readFileSync(path.join(want, "checkpoints", "final", f))), `${what}: checkpoints/final/${f}`);
  }
  assert.equal(JSON.parse(fs.readFileSync(path.join(got, "run.json"), "utf8")).status, "finished", what);
  assert.equal(fs.existsSync(path.join(got, LOCK_FILE)), false, `${what}: the lock is released`);
}

const whole = path.join(root, "whole");
function wholeRun(): string {
  if (!fs.existsSync(path.join(whole, "locked", "run.json"))) {
    const r = stepwise(["run", specFile, "--out", whole, ...ARGS]);
    assert.equal(r.status, 0, r.stderr);
  }
  return path.join(whole, "locked");
}

test("a live run's directory: a second run, --resume, --overwrite, export, report and sw.run are refused naming its pid, nothing changes; continued, it ends as a lone run", { timeout: 600_000 }, async () => {
  const want = wholeRun();
  const out = path.join(root, "live");
  const dir = path.join(out, "locked");
  const owner = await stoppedAt(["run", specFile, "--out", out, ...ARGS], "rollouts:2:stop");
  try {
    const before = snapshot(dir);
    assert.ok(before[LOCK_FILE] && before["metrics.jsonl"], "the stopped run holds its lock and has written rows");
    const refusedWith = new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is being written by another process: pid ${owner.pid} on ${os.hostname()} \\(since \\d{4}-\\d\\d-\\d\\dT[^)]*run [^)]*locked\\.sw[^)]*\\); nothing was written`);
    for (const args of [["run", specFile, "--out", out], ["run", "--resume", dir], ["run", specFile, "--out", out, "--overwrite"]]) {
      const r = stepwise([...args, "--backend", "cpu"]);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, refusedWith, args.join(" "));
    }
    const checkpoint = path.join(REPO, "examples", "checkpoints", "arith-sft");
    for (const dest of [dir, path.join(dir, "checkpoints", "final")]) {
      const r = stepwise(["export", checkpoint, dest]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`being written by another process: pid ${owner.pid} `));
    }
    const report = stepwise(["report", dir]);
    assert.equal(report.status, 1, report.stderr);
    assert.match(report.stderr, new RegExp(`pid ${owner.pid} `));
    // the library path (sw.run, and through it %%stepwise run): a RunError with the refusal, the runner's failed result attached
    const { plan } = compile(SPEC, { file: specFile, purpose: "run" });
    const events: string[] = [];
    // (the same run as the owner's, its options too: sw.run would continue it, and the lock refuses)
    await assert.rejects(liveRun(plan!, { out, display: false, backend: "cpu", checkpointEvery: 2, onEvent: (e) => events.push(e.type) }), (e: unknown) => {
      assert.ok(e instanceof RunError);
      assert.match(e.message, refusedWith);
      assert.equal((e.result as { status: string }).status, "failed");
      return true;
    });
    assert.deepEqual(events, ["failed"]);
    assert.deepEqual(snapshot(dir), before, "no file of the run was touched by the refused writers");
  } finally {
    owner.kill("SIGCONT");
  }
  assert.equal(await exited(owner), 0);
  assertSameRun(dir, want, "the run that was refused others");
});

test("a lock left by a SIGKILLed run is taken over by --resume with one line saying so, and the run ends as a lone run", { timeout: 600_000 }, () => {
  const want = wholeRun();
  const out = path.join(root, "killed");
  const dir = path.join(out, "locked");
  const killed = stepwise(["run", specFile, "--out", out, ...ARGS], { STEPWISE_FAULT: "rollouts:3" });
  assert.equal(killed.signal, "SIGKILL");
  const dead = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"));
  const resumed = stepwise(["run", "--resume", dir]);
  assert.equal(resumed.status, 0, resumed.stderr);
  const notices = resumed.stderr.split("\n").filter((l) => l.includes("took over"));
  assert.equal(notices.length, 1, resumed.stderr);
  assert.match(notices[0]!, new RegExp(`^warning: .*locked: took over the lock of pid ${dead.pid} on ${os.hostname()} \\(since ${dead.started}: .*\\), which is no longer running$`));
  assertSameRun(dir, want, "resumed after SIGKILL");
});

test("lockDir: a live owner is refused, a dead pid and a reused pid (another start time) are taken over, another host is refused", () => {
  const dir = path.join(root, "unit");
  const file = path.join(dir, LOCK_FILE);
  fs.mkdirSync(dir, { recursive: true });
  const lock = lockDir(dir);
  assert.equal(lock.tookOver, undefined);
  // a second owner in this very process is refused too (two sw.run of one plan at once)
  assert.throws(() => lockDir(dir), (e: unknown) => e instanceof DirLockedError && new RegExp(`being written by this process: pid ${process.pid} `).test(e.message));
  const mine = JSON.parse(fs.readFileSync(file, "utf8"));
  lock.release();
  assert.equal(fs.existsSync(file), false);

  const write = (o: object) => fs.writeFileSync(file, JSON.stringify({ ...mine, ...o }));
  // a process that has ended
  const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
  write({ pid: gone, procStart: undefined });
  let l = lockDir(dir);
  assert.match(l.tookOver!, new RegExp(`took over the lock of pid ${gone} .*which is no longer running$`));
  l.release();
  // pid reuse: this (live) process, but not the start time recorded
  assert.ok(processStartTime(process.pid));
  write({ procStart: String(Number(processStartTime(process.pid)) + 1) });
  l = lockDir(dir);
  assert.match(l.tookOver!, new RegExp(`pid ${process.pid} is now another process`));
  l.release();
  // another machine: never taken over; the message says which file to delete
  write({ host: "elsewhere.example", pid: 1 });
  assert.throws(() => lockDir(dir), /pid 1 on elsewhere\.example .*on another machine; nothing was written \(if no process there writes it any more, delete .*stepwise\.lock\)/);
  // the machine restarted since (another boot id)
  write({ boot: "0000-old-boot" });
  l = lockDir(dir);
  assert.match(l.tookOver!, /taken before this machine restarted/);
  l.release();
  // a lock file cut short (a power cut), old: dead; fresh: someone is writing it now
  fs.writeFileSync(file, '{"pid": 12');
  assert.throws(() => lockDir(dir), /lock file .* is being written right now/);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  l = lockDir(dir);
  assert.match(l.tookOver!, /could not be read/);
  l.release();
  // a directory the lock created is removed again when left empty
  const fresh = path.join(root, "unit-new", "a");
  lockDir(fresh).release();
  assert.equal(fs.existsSync(path.join(root, "unit-new")), false);
});

test("two `compare --resume` of one comparison: the second is refused naming the first; the first goes on to its table", { timeout: 600_000 }, async () => {
  const out = path.join(root, "cmp");
  const args = ["compare", specFile, "--out", out, "--name", "lk", "--backend", "cpu", "--iterations", "2"];
  const first = await stoppedAt([...args, "--resume"], "rollouts:1:stop");
  try {
    const before = snapshot(path.join(out, "compare-lk"));
    const second = stepwise([...args, "--resume"]);
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`^stepwise compare: .*compare-lk is being written by another process: pid ${first.pid} `, "m"));
    assert.deepEqual(snapshot(path.join(out, "compare-lk")), before);
  } finally {
    first.kill("SIGCONT");
  }
  assert.equal(await exited(first), 0);
  assert.ok(fs.existsSync(path.join(out, "compare-lk", "results.md")));
  assert.equal(fs.existsSync(path.join(out, "compare-lk", LOCK_FILE)), false);
});

test("readers skip a torn last line (whatever the run's status) and a live run's step records whose row is not written yet", async () => {
  const dir = path.join(root, "torn");
  fs.mkdirSync(dir, { recursive: true });
  const row = (i: number) => JSON.stringify({ stage: "rl", stage_index: 0, iteration: i, time: i, loss: 0.5 });
  const step = (i: number) => JSON.stringify({ stage: "rl", stage_index: 0, iteration: i, group: 0, response: 0, step: 0, tokens: 3, text: "1+1", advantage: 0, outcome: 1, probes: {} });
  for (const status of ["failed", "running"]) {
    fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify({ name: "torn", backend: "cpu", started: "2026-01-01T00:00:00Z", seed: 1, status }));
    fs.writeFileSync(path.join(dir, "metrics.jsonl"), `${row(0)}\n${row(1)}\n${row(2).slice(0, 20)}`);
    fs.writeFileSync(path.join(dir, "steps.jsonl"), `${step(0)}\n${step(1)}\n${step(2)}\n${step(3).slice(0, 30)}`);
    const run = await loadRun(dir, { rollouts: false });
    assert.deepEqual(run.metrics.array("iteration"), [0, 1], status);
    // iteration 2's steps are whole lines, but its row is not: shown only once the run no longer writes
    assert.deepEqual(run.steps.array("iteration"), status === "running" ? [0, 1] : [0, 1, 2], status);
  }
  // a bad line that is not the last is still an error naming the file and line
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), `${row(0)}\n{"stage"\n${row(1)}\n`);
  await assert.rejects(loadRun(dir), /metrics\.jsonl:2/);
});
