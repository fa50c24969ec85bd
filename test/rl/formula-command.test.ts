/**
 * runAdvantageCommand on hand-made batch fixtures: the printed advantages equal the numbers worked
 * by hand in formula-methods.test.ts; errors go to stderr with exit 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runAdvantageCommand, type CompileFn } from "../../src/rl/advantage-command.js";
import { assertClose, FIXTURES } from "./formula-helpers.js";
import { PLAN_FIXTURES, planText } from "../fixtures/batches/make-plans.js";

const fx = (name: string) => path.join(FIXTURES, name);
const A_WIN = 1.1546985; // GRPO group 0 winner: (2/3) / (sqrt(1/3) + 1e-6)
const A_LOSE = -0.5773493;

async function advantages(spec: string, batch: string): Promise<number[][]> {
  const r = await runAdvantageCommand(fx(spec), fx(batch));
  assert.equal(r.stderr, "");
  assert.equal(r.exitCode, 0);
  assert.ok(r.stdout.endsWith("\n"));
  const out = JSON.parse(r.stdout) as { advantages: number[][] };
  assert.deepEqual(Object.keys(out), ["advantages"]);
  return out.advantages;
}

test("the committed plan fixtures are what their specs compile to (npx tsx test/fixtures/batches/make-plans.ts)", () => {
  for (const name of PLAN_FIXTURES) assert.equal(fs.readFileSync(fx(`${name}.plan.json`), "utf8"), planText(name), name);
});

test("grpo plan on the ragged batch: one unpadded array per response, group by group", async () => {
  assertClose(await advantages("grpo.plan.json", "ragged.json"), [[A_WIN, A_WIN], [A_LOSE, A_LOSE, A_LOSE], [A_LOSE], [0, 0], [0]]);
});

test("spro plan (beta 0.5) on the ragged batch", async () => {
  assertClose(
    await advantages("spro.plan.json", "ragged.json"),
    [[A_WIN + 0.15, A_WIN - 0.15], [A_LOSE + 0.1, A_LOSE + 0.15, A_LOSE], [A_LOSE - 0.25], [-0.05, 0], [0.05]],
    2e-5,
  );
});

test("sspo plan (belief, gamma 0.9, lambda 0.8) on the probed batch", async () => {
  const z = [1.2905643, 0.8143156, -0.934098, -0.8235153, -0.3472666];
  assertClose(await advantages("sspo.plan.json", "sspo.json"), [[z[0], z[0], z[1]], [z[2], z[3], z[4], z[4]]]);
});

test("a malformed batch: exit 1, the field and the response named, nothing on stdout", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-adv-"));
  try {
    const b = JSON.parse(fs.readFileSync(fx("ragged.json"), "utf8"));
    b.groups[1].responses[0].step_ends = [1, 3];
    fs.writeFileSync(path.join(dir, "bad.json"), JSON.stringify(b));
    fs.writeFileSync(path.join(dir, "notjson.json"), "{ nope");
    let r = await runAdvantageCommand(fx("grpo.plan.json"), path.join(dir, "bad.json"));
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /groups\[1\]\.responses\[0\]\.step_ends: last value 3 must equal the token count 2/);
    r = await runAdvantageCommand(fx("grpo.plan.json"), path.join(dir, "notjson.json"));
    assert.match(r.stderr, /notjson\.json: not JSON/);
    r = await runAdvantageCommand(fx("grpo.plan.json"), path.join(dir, "missing.json"));
    assert.match(r.stderr, /missing\.json: cannot read the batch \(ENOENT\)/);
    // the sspo plan reads a probe the ragged batch does not record
    r = await runAdvantageCommand(fx("sspo.plan.json"), fx("ragged.json"));
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /probe "belief".*probes\.belief/);
    // a plan.json of the IR before the op registry (calls as { op: "call", fn }) is refused by name
    const old = JSON.parse(fs.readFileSync(fx("grpo.plan.json"), "utf8"));
    old.advantage = { op: "call", fn: "zscore", args: [{ op: "ref", name: "reward", level: "response" }], opts: {}, level: "response" };
    fs.writeFileSync(path.join(dir, "old.plan.json"), JSON.stringify(old));
    r = await runAdvantageCommand(path.join(dir, "old.plan.json"), fx("ragged.json"));
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /unknown formula node "call".*compile the spec again/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test("spec source goes through the compiler with purpose advantage; its diagnostics are printed", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-adv-"));
  try {
    const spec = path.join(dir, "a.sw");
    fs.writeFileSync(spec, "advantage = zscore(reward)\n");
    const grpo = JSON.parse(fs.readFileSync(fx("grpo.plan.json"), "utf8"));
    const seen: unknown[] = [];
    const good: CompileFn = (source, opts) => (seen.push([source, opts]), { plan: grpo, diagnostics: [] });
    const r = await runAdvantageCommand(spec, fx("ragged.json"), { compile: good });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(seen, [["advantage = zscore(reward)\n", { file: spec, purpose: "advantage" }]]);
    const bad: CompileFn = () => ({ diagnostics: [{ file: spec, line: 1, column: 20, message: "unknown name `rewrd`", hint: "did you mean `reward`?" }] });
    const e = await runAdvantageCommand(spec, fx("ragged.json"), { compile: bad });
    assert.equal(e.exitCode, 1);
    assert.equal(e.stderr, `${spec}:1:20: unknown name \`rewrd\` (did you mean \`reward\`?)\n`);
    const none: CompileFn = () => ({ plan: { ...grpo, advantage: undefined }, diagnostics: [] });
    assert.match((await runAdvantageCommand(spec, fx("ragged.json"), { compile: none })).stderr, /declares no advantage.*use grpo/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
