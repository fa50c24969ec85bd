#!/usr/bin/env node
/**
 * The `stepwise` command line: run | check | fmt | advantage | report | compare | kernel install | start.
 * Every failure ends with a message and a non-zero exit code, never a stack trace.
 */
import { parseArgs, UsageError } from "./args.js";

const USAGE = `usage: stepwise <command> [options]

  run SPEC [--backend wasm|cpu|tensorflow] [--out DIR] [--iterations N] [--resume [RUN_DIR]]
                         compile a spec and run its training stages (Ctrl-C keeps a checkpoint)
  check FILE...          print diagnostics as FILE:LINE:COL: message (exit 1 when there are errors)
  fmt FILE... [--check]  format specs in place (--check: exit 1 when one would change)
  advantage SPEC --batch BATCH.json
                         print {"advantages": [[...], ...]}: the spec's token advantages on a batch
  report RUN_DIR         write RUN_DIR/report.html (charts and tables)
  compare SPEC... [--seeds N] [--out DIR] [--iterations N] [--name NAME]
                         run specs on the same seeds and write a results table and charts
  world SPEC [--train N] [--heldout N]
                         how far the spec's arithmetic world keeps held-out expressions from training
  export RUN_DIR|CHECKPOINT DEST
                         copy a checkpoint's weights, config and tokenizer (no optimizer state)
  kernel install [--user | --prefix DIR]
                         register the Jupyter kernel "stepwise"
  start                  the quickstart: stepwise run examples/quickstart.sw
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const args = parseArgs(rest, ["backend", "out", "iterations", "batch", "seeds", "prefix", "resume", "name", "train", "heldout"]);
  const p = args.positionals;
  const f = args.flags;
  switch (command) {
    case "run":
    case "start": {
      const { runCommand } = await import("./run-command.js");
      const spec = command === "start" ? (p[0] ?? "examples/quickstart.sw") : p[0];
      return runCommand(spec, {
        backend: str(f.backend),
        out: str(f.out),
        iterations: f.iterations !== undefined ? int(f.iterations, "--iterations") : undefined,
        resume: f.resume,
      });
    }
    case "check": {
      need(p.length > 0, "stepwise check FILE...");
      const { checkFiles } = await import("../../dsl/commands.js");
      return checkFiles(p);
    }
    case "fmt": {
      need(p.length > 0, "stepwise fmt FILE... [--check]");
      const { fmtFiles } = await import("../../dsl/commands.js");
      return fmtFiles(p, { check: f.check === true });
    }
    case "advantage": {
      need(p.length === 1 && typeof f.batch === "string", "stepwise advantage SPEC --batch BATCH.json");
      const { runAdvantageCommand } = await import("../rl/advantage-command.js");
      const r = await runAdvantageCommand(p[0]!, f.batch as string);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.exitCode;
    }
    case "report": {
      need(p.length === 1, "stepwise report RUN_DIR");
      const { writeReport } = await import("../analytics/report.js");
      const file = await writeReport(p[0]!);
      process.stdout.write(`${file}\n`);
      return 0;
    }
    case "compare": {
      need(p.length > 0, "stepwise compare SPEC... [--seeds N]");
      const { compareCommand } = await import("./compare-command.js");
      return compareCommand(p, {
        seeds: f.seeds !== undefined ? int(f.seeds, "--seeds") : 1,
        out: str(f.out),
        iterations: f.iterations !== undefined ? int(f.iterations, "--iterations") : undefined,
        backend: str(f.backend),
        name: str(f.name),
      });
    }
    case "world": {
      need(p.length === 1, "stepwise world SPEC [--train N] [--heldout N]");
      const { worldCommand } = await import("./world-command.js");
      return worldCommand(p[0]!, {
        train: f.train !== undefined ? int(f.train, "--train") : undefined,
        heldOut: f.heldout !== undefined ? int(f.heldout, "--heldout") : undefined,
      });
    }
    case "export": {
      need(p.length === 2, "stepwise export RUN_DIR|CHECKPOINT DEST");
      const { exportCheckpoint } = await import("./export-command.js");
      process.stdout.write(exportCheckpoint(p[0]!, p[1]!) + "\n");
      return 0;
    }
    case "kernel": {
      need(p[0] === "install", "stepwise kernel install [--user | --prefix DIR]");
      const { installKernel } = await import("./kernel-install.js");
      const dir = await installKernel({ user: f.user === true, prefix: str(f.prefix) });
      process.stdout.write(`installed kernelspec "stepwise" in ${dir}\n`);
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function need(ok: boolean, usage: string): void {
  if (!ok) throw new UsageError(`usage: ${usage}`);
}

function str(v: string | true | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function int(v: string | true, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} needs a non-negative integer, got ${String(v)}`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`stepwise: ${err.message}\n\n${USAGE}`);
    else process.stderr.write(`stepwise: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
