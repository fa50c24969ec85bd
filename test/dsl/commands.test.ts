import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkFiles, fmtFiles } from "../../dsl/commands.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "stepwise-dsl-"));
const examplesDir = fileURLToPath(new URL("../../examples/", import.meta.url));

test("check: every example checks clean (exit 0; only real-model.sw's model and data, which a user supplies, are missing)", async () => {
  const c = capture();
  const files = readdirSync(examplesDir).filter((f) => f.endsWith(".sw")).map((f) => join(examplesDir, f));
  assert.ok(files.length >= 5);
  assert.equal(await checkFiles(files, c.io), 0);
  const heads = c.out.join("").split("\n").filter((l) => l !== "" && !l.startsWith("  hint:"));
  assert.deepEqual(heads.map((l) => l.replace(/ \(.*\)$/, "")), [
    `${join(examplesDir, "real-model.sw")}:14:12: warning: model path \`../models/Qwen3-0.6B\` does not exist`,
    `${join(examplesDir, "real-model.sw")}:15:12: warning: task data path \`../data/gsm8k-train.jsonl\` does not exist`,
  ]);
});

test("check: a model, tokenizer or data path that does not exist is a warning at the path (exit 0); one that exists is not", async () => {
  const f = join(dir, "paths.sw");
  writeFileSync(join(dir, "tok.json"), "{}");
  writeFileSync(f, 'experiment "p"\nmodel load "weights/m"\ntokenizer load "tok.json"\ntask jsonl "d.jsonl" { question "q", answer "a" }\nreward c = outcome\nuse grpo\ntrain { rl { iterations 1 } }\n');
  const c = capture();
  assert.equal(await checkFiles([f], c.io), 0);
  assert.deepEqual(c.out.join("").split("\n"), [
    `${f}:2:12: warning: model path \`weights/m\` does not exist (${join(dir, "weights/m")})`,
    "  hint: paths are relative to the spec file's folder; nothing is downloaded, so put the files there first",
    `${f}:4:12: warning: task data path \`d.jsonl\` does not exist (${join(dir, "d.jsonl")})`,
    "  hint: paths are relative to the spec file's folder; nothing is downloaded, so put the files there first",
    "",
  ]);
});

test("check: a broken spec exits 1 with FILE:LINE:COL lines and hints", async () => {
  const f = join(dir, "bad.sw");
  writeFileSync(f, "reward a = logratoi\nseed 1 2\n");
  const c = capture();
  assert.equal(await checkFiles([f], c.io), 1);
  assert.deepEqual(c.out.join("").split("\n"), [
    `${f}:1:12: unknown name \`logratoi\``,
    "  hint: did you mean `logratio`?",
    `${f}:2:8: expected a new declaration on its own line, found \`2\``,
    "  hint: start each declaration on its own line",
    "",
  ]);
});

test("check: a missing file is an error, not a crash", async () => {
  const c = capture();
  assert.equal(await checkFiles([join(dir, "nope.sw")], c.io), 1);
  assert.match(c.err.join(""), /nope\.sw: cannot read \(ENOENT\)/);
});

test("fmt: --check reports, in place rewrites, then --check passes", async () => {
  const f = join(dir, "messy.sw");
  writeFileSync(f, "seed  3\nreward a=outcome   # r\n");
  let c = capture();
  assert.equal(await fmtFiles([f], { check: true }, c.io), 1);
  assert.equal(c.out.join(""), `${f}: not formatted\n`);
  assert.equal(readFileSync(f, "utf8"), "seed  3\nreward a=outcome   # r\n");
  c = capture();
  assert.equal(await fmtFiles([f], {}, c.io), 0);
  assert.equal(readFileSync(f, "utf8"), "seed 3\nreward a = outcome  # r\n");
  c = capture();
  assert.equal(await fmtFiles([f], { check: true }, c.io), 0);
  assert.deepEqual(c.out, []);
});

test("fmt: a file with syntax errors is left alone, exit 1", async () => {
  const f = join(dir, "broken.sw");
  writeFileSync(f, "reward = 1\n");
  const c = capture();
  assert.equal(await fmtFiles([f], {}, c.io), 1);
  assert.equal(readFileSync(f, "utf8"), "reward = 1\n");
  assert.match(c.err.join(""), /broken\.sw:1:8: expected a name, found `=`/);
});
