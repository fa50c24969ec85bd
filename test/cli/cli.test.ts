/** The strict command line: refusals with did-you-mean and exit 2, help for every command, --version. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cli } from "../../src/cli/cli.js";
import { parseArgs, UsageError, type ArgsSpec } from "../../src/cli/args.js";
import { COMMANDS } from "../../src/cli/commands.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await cli(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

test("a misspelt flag is refused with a did-you-mean, before anything runs", async () => {
  const r = await run("run", "examples/quickstart.sw", "--iteration", "3");
  assert.equal(r.code, 2);
  assert.match(r.err, /^stepwise run: unknown option --iteration; did you mean --iterations\?\nusage: stepwise run \[SPEC\] /);
  assert.equal(r.out, "");
});

test("stray arguments, missing ones, missing and repeated values are usage errors (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "a.sw", "b.sw"], /unexpected argument "b\.sw": the command takes \[SPEC\]/],
    [["report"], /missing RUN_DIR/],
    [["export", "a"], /missing DEST/],
    [["check"], /missing FILE\.\.\./],
    [["compare", "a.sw", "--seeds"], /--seeds needs a value: --seeds N/],
    [["compare", "a.sw", "--seeds", "two"], /--seeds needs a non-negative integer, got two/],
    [["compare", "a.sw", "--seeds", "2", "--seeds", "3"], /--seeds is given twice/],
    [["advantage", "a.sw"], /missing --batch BATCH\.json/],
    [["fmt", "a.sw", "--check=yes"], /--check takes no value/],
    [["check", "a.sw", "--fix"], /unknown option --fix; this command has no options/],
    [["fmt", "a.sw", "-check"], /unknown option -check; did you mean --check\?/],
    [["kernel", "install", "now"], /unexpected argument "now" \(this command takes none\)/],
    [["kernel", "install", "--user", "--prefix", "/tmp/x"], /give --user or --prefix DIR, not both/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, message, argv.join(" "));
  }
});

test("an unknown command gets a did-you-mean; a bare subcommand group names its subcommands", async () => {
  let r = await run("chek", "a.sw");
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command "chek"; did you mean check\?/);
  r = await run("kernel");
  assert.equal(r.code, 2);
  assert.match(r.err, /kernel needs a subcommand: stepwise kernel install/);
  r = await run();
  assert.equal(r.code, 2);
  assert.match(r.err, /^usage: stepwise <command>/);
});

test("every command has --help (exit 0): its usage line, every option, the exit codes", async () => {
  assert.ok(COMMANDS.length >= 9);
  for (const c of COMMANDS) {
    const r = await run(...c.name.split(" "), "--help");
    assert.equal(r.code, 0, c.name);
    assert.ok(r.out.startsWith(`usage: stepwise ${c.name}`), r.out);
    for (const flag of Object.keys(c.flags)) assert.match(r.out, new RegExp(`\\n  --${flag}\\b`), `${c.name} --${flag}`);
    assert.match(r.out, /exit codes: 0 ok, 1 diagnostics or a failed run, 2 usage error/);
    const h = await run("help", ...c.name.split(" "));
    assert.equal(h.out, r.out);
  }
  const top = await run("--help");
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.match(top.out, new RegExp(`\\n  ${c.name} +\\S`));
});

test("--version prints package.json's version", async () => {
  const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  const r = await run("--version");
  assert.equal(r.code, 0);
  assert.equal(r.out, `stepwise ${version}\n`);
});

test("parseArgs: --key=value, an optional value, -- ends the flags, negative numbers as values", () => {
  const spec: ArgsSpec = {
    positionals: { names: "FILE...", min: 0, max: Infinity },
    flags: { out: { value: "DIR", help: "" }, resume: { value: "DIR", optionalValue: true, help: "" }, n: { value: "N", help: "" } },
  };
  assert.deepEqual(parseArgs(["a", "--out=x", "--n", "-3", "--resume"], spec), { positionals: ["a"], flags: { out: "x", n: "-3", resume: true } });
  assert.deepEqual(parseArgs(["--resume", "runs/a", "--", "--out"], spec), { positionals: ["--out"], flags: { resume: "runs/a" } });
  assert.throws(() => parseArgs(["--otu", "x"], spec), (e: unknown) => e instanceof UsageError && /did you mean --out\?/.test(e.message));
});
