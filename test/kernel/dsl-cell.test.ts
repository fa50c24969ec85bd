import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnosticsError, isDslCell, MAGIC_HELP, MAGIC_SPELLING, parseMagic, specSource, unboundValue } from "../../kernel/dsl-cell.js";
import { refusalMessage } from "../../src/run/rerun.js";
import { formatFormula, planRows } from "../../kernel/plan-summary.js";
import { compile } from "./fixtures/fake-dsl.js";

test("the magic line: plain, named, run", () => {
  const none = { help: false, options: {} };
  assert.deepEqual(parseMagic("%%stepwise"), { run: false, planVar: "plan", runVar: "run", ...none });
  assert.deepEqual(parseMagic("%%stepwise  base "), { run: false, planVar: "base", runVar: "baseRun", ...none });
  assert.deepEqual(parseMagic("%%stepwise run"), { run: true, planVar: "plan", runVar: "run", ...none });
  assert.deepEqual(parseMagic("%%stepwise run sspo"), { run: true, planVar: "sspo", runVar: "sspoRun", ...none });
  assert.throws(() => parseMagic("%%stepwise a b"), /usage/);
  assert.throws(() => parseMagic("%%stepwise 9lives"), /usage/);
  assert.ok(isDslCell("%%stepwise\nexperiment x"));
  assert.ok(!isDslCell("// %%stepwise\n1"));
  assert.ok(!isDslCell("%%stepwiser\n1"));
});

test("the run options: sw.run's, as flags; unknown ones get a did-you-mean", () => {
  assert.deepEqual(parseMagic("%%stepwise run --overwrite").options, { overwrite: true });
  assert.deepEqual(parseMagic("%%stepwise run arm --resume").options, { resume: true });
  assert.deepEqual(parseMagic("%%stepwise run --suffix lr2 arm"), { run: true, planVar: "arm", runVar: "armRun", help: false, options: { suffix: "lr2" } });
  assert.deepEqual(parseMagic("%%stepwise run --suffix=b --overwrite").options, { suffix: "b", overwrite: true });
  assert.equal(parseMagic("%%stepwise --help").help, true);
  assert.equal(parseMagic("%%stepwise run -h").help, true);
  const fails = (line: string, message: RegExp) => assert.throws(() => parseMagic(line), { message });
  fails("%%stepwise run --overwirte", /^unknown option --overwirte; did you mean --overwrite\?\nusage: %%stepwise \[run\] \[NAME\] \[--overwrite \| --resume\] \[--suffix NAME\]/);
  fails("%%stepwise run --sufix x", /^unknown option --sufix; did you mean --suffix\?/);
  fails("%%stepwise run --force", /^unknown option --force; the options are --overwrite, --resume, --suffix\n/);
  fails("%%stepwise --overwrite", /^--overwrite is an option of `%%stepwise run`/);
  fails("%%stepwise run --suffix", /^--suffix needs a NAME/);
  fails("%%stepwise run --suffix --resume", /^--suffix needs a NAME/);
  fails("%%stepwise run --resume=yes", /^--resume takes no value/);
  fails("%%stepwise run --overwrite --resume", /^--overwrite and --resume contradict each other/);
});

test("the help lists every run option; a refusal in the cell names the cell's options, not the command line's", () => {
  for (const flag of ["--overwrite", "--resume", "--suffix NAME", "--help"]) assert.ok(MAGIC_HELP.includes(flag), flag);
  assert.match(MAGIC_HELP, /sw\.run\(plan, \{ overwrite: true \}\), \{ resume: true \}, \{ suffix: "NAME" \}/);
  const changed = refusalMessage({ kind: "changed", dir: "/nb/runs/q", difference: "seed: 7 in the run, 8 in this spec", of: "spec" }, MAGIC_SPELLING);
  assert.equal(
    changed,
    "/nb/runs/q holds a run of a different spec (seed: 7 in the run, 8 in this spec). Add `--overwrite` to the `%%stepwise run` line to delete that run and train this spec, " +
      "or `--suffix NAME` to keep both (this one then runs in /nb/runs/q-NAME); or put back the spec that run was made with (/nb/runs/q/spec.sw).",
  );
  assert.equal(refusalMessage({ kind: "nothing-to-resume", dir: "/nb/runs/q" }, MAGIC_SPELLING), "nothing to resume: /nb/runs/q holds no run. Leave out `--resume` to start one.");
});

test("a variable a failed cell left unbound says why on every use", () => {
  const run = unboundValue("run", "the %%stepwise run cell that binds it failed (RunError: refused)") as { dir: string };
  assert.throws(() => run.dir, { name: "UnboundError", message: "`run` is not bound: the %%stepwise run cell that binds it failed (RunError: refused); fix that cell and run it again" });
  assert.throws(() => "dir" in run, /not bound/);
  assert.throws(() => Object.keys(run), /not bound/);
  assert.equal((run as unknown as Record<symbol, unknown>)[Symbol.for("stepwise.mimeBundle")], undefined);
});

test("the spec keeps the cell's line numbers (line 1 is the magic line)", () => {
  const cell = "%%stepwise\nexperiment a\n  bad";
  const src = specSource(cell);
  assert.equal(src.split("\n")[2], "  bad"); // index 2 = line 3
  const { diagnostics } = compile(src, { file: "cell" });
  const err = diagnosticsError(diagnostics);
  assert.equal(err.ename, "StepwiseError");
  assert.equal(err.evalue, 'unknown declaration "bad"');
  assert.deepEqual(err.traceback, ['cell:3:3: unknown declaration "bad"', "  hint: use experiment or iterations"]);
  assert.equal(specSource("%%stepwise"), "");
});

test("formulas print back with the precedence they were parsed with", () => {
  const ref = (name: string) => ({ op: "ref", source: "let", name, level: "step" }) as const;
  const num = (value: number) => ({ op: "num", value, level: "step" }) as const;
  // (a - b) * c  and  a - b * c
  assert.equal(formatFormula({ op: "binary", fn: "*", level: "step", left: { op: "binary", fn: "-", level: "step", left: ref("a"), right: ref("b") }, right: ref("c") }), "(a - b) * c");
  assert.equal(formatFormula({ op: "binary", fn: "-", level: "step", left: ref("a"), right: { op: "binary", fn: "*", level: "step", left: ref("b"), right: ref("c") } }), "a - b * c");
  // a - (b - c): the right operand of a left-associative operator keeps its parentheses
  assert.equal(formatFormula({ op: "binary", fn: "-", level: "step", left: ref("a"), right: { op: "binary", fn: "-", level: "step", left: ref("b"), right: ref("c") } }), "a - (b - c)");
  assert.equal(formatFormula({ op: "group", fn: "zscore", arg: ref("outcome"), by: "position", level: "step" }), "zscore(outcome, by position)");
  assert.equal(formatFormula({ op: "reduce", fn: "sum", arg: ref("x"), over: "step", level: "step" }), "sum(x over step)");
  assert.equal(formatFormula({ op: "scan", fn: "discount", arg: ref("x"), gamma: 0.9, level: "step" }), "discount(x, 0.9)");
  assert.equal(formatFormula({ op: "unary", fn: "neg", arg: num(2), level: "step" }), "-2");
});

test("the plan summary lists the advantage and each stage", () => {
  const { plan } = compile("experiment demo\niterations 4");
  const rows = new Map(planRows(plan!));
  assert.equal(rows.get("name"), "demo");
  assert.equal(rows.get("advantage"), "outcome - 0.5");
  assert.match(rows.get("train 1")!, /^rl: iterations 4, prompts 2, group 4/);
});
