/**
 * The `stepwise` commands, one declarative entry each: what it takes (checked by args.ts), its
 * help text, and what it runs. The top-level help and `stepwise COMMAND --help` are generated
 * from this table, so a new command is one entry here.
 *
 * Every `run` imports its module lazily: `stepwise --help` and `stepwise check` must not pay for
 * TensorFlow.js, vega or the runner (they start in well under 0.5 s).
 */
import { intFlag, strFlag, UsageError, type ArgsSpec, type ParsedArgs } from "./args.js";

export interface Command extends ArgsSpec {
  /** one word, or two for a subcommand (`kernel install`) */
  name: string;
  /** one line for the command list */
  summary: string;
  /** more lines for `stepwise NAME --help` */
  details?: string;
  run(args: ParsedArgs): Promise<number>;
}

/** A command that returns its output: print it, return its exit code. */
function printed(r: { stdout: string; stderr: string; exitCode: number }): number {
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.exitCode;
}

const BACKEND = { value: "wasm|cpu|tensorflow", help: "TensorFlow.js backend (default: tensorflow if installed, else wasm)" };

export const COMMANDS: Command[] = [
  {
    name: "run",
    summary: "compile a spec and run its training stages (Ctrl-C keeps a checkpoint)",
    details: "With --resume and no SPEC, the run directory's spec.sw is used. Exit 0 when the run finished, 1 when it failed, 130 when interrupted.",
    positionals: { names: "[SPEC]", min: 0, max: 1 },
    flags: {
      backend: BACKEND,
      out: { value: "DIR", help: "parent folder of the run directory (default: runs/ in the current folder)" },
      iterations: { value: "N", help: "override the iterations of every RL stage" },
      resume: { value: "RUN_DIR", optionalValue: true, help: "continue an interrupted run from its last checkpoint, with the options it was started with" },
      overwrite: { help: "start again in a directory that holds a run, deleting that run's files (and only those)" },
      "checkpoint-every": { value: "N", help: "checkpoint every N iterations of an rl, dpo or step_dpo stage (default 5; always at a stage's end)" },
    },
    async run({ positionals: p, flags: f }) {
      const { runCommand } = await import("./run-command.js");
      return runCommand(p[0], {
        backend: strFlag(f.backend),
        out: strFlag(f.out),
        iterations: intFlag(f.iterations, "iterations"),
        checkpointEvery: intFlag(f["checkpoint-every"], "checkpoint-every"),
        resume: f.resume,
        overwrite: f.overwrite === true,
      });
    },
  },
  {
    name: "start",
    summary: "the quickstart: stepwise run examples/quickstart.sw",
    positionals: { names: "[SPEC]", min: 0, max: 1 },
    flags: { backend: BACKEND },
    async run({ positionals: p, flags: f }) {
      const { runCommand } = await import("./run-command.js");
      return runCommand(p[0] ?? "examples/quickstart.sw", { backend: strFlag(f.backend) });
    },
  },
  {
    name: "check",
    summary: "print diagnostics as FILE:LINE:COL: message (exit 1 when there are errors)",
    details: "Also warns about model, tokenizer and task paths that do not exist (paths are relative to the spec).",
    positionals: { names: "FILE...", min: 1, max: Infinity },
    flags: {},
    async run({ positionals }) {
      const { checkFiles } = await import("../../dsl/commands.js");
      return checkFiles(positionals);
    },
  },
  {
    name: "fmt",
    summary: "format specs in place",
    positionals: { names: "FILE...", min: 1, max: Infinity },
    flags: { check: { help: "change nothing; exit 1 when a file would change" } },
    async run({ positionals, flags }) {
      const { fmtFiles } = await import("../../dsl/commands.js");
      return fmtFiles(positionals, { check: flags.check === true });
    },
  },
  {
    name: "compile",
    summary: "write a Python package that trains the spec with TRL or verl, its advantage compiled to PyTorch",
    details: "DIR gets the compiled advantage (stepwise_advantages.py), the trainer and its launch script, and a README (docs/engines.md). A construct the target cannot express (the tree sampler, step DPO) is refused by name.",
    positionals: { names: "SPEC", min: 1, max: 1 },
    flags: {
      target: { value: "trl|verl", required: true, help: "the engine" },
      out: { value: "DIR", required: true, help: "the package folder (new, empty, or an earlier compile)" },
    },
    async run({ positionals, flags }) {
      const { compileCommand } = await import("../compile/index.js");
      return printed(await compileCommand(positionals[0]!, { target: strFlag(flags.target)!, out: strFlag(flags.out)! }));
    },
  },
  {
    name: "advantage",
    summary: 'print {"advantages": [[...], ...]}: the spec\'s token advantages on recorded rollouts',
    positionals: { names: "SPEC", min: 1, max: 1 },
    flags: { batch: { value: "BATCH.json", required: true, help: "a rollout batch (runs/NAME/rollouts/iter-N.json)" } },
    async run({ positionals, flags }) {
      const { runAdvantageCommand } = await import("../rl/advantage-command.js");
      return printed(await runAdvantageCommand(positionals[0]!, strFlag(flags.batch)!));
    },
  },
  {
    name: "report",
    summary: "write RUN_DIR/report.html (charts and tables)",
    positionals: { names: "RUN_DIR", min: 1, max: 1 },
    flags: {},
    async run({ positionals }) {
      const { writeReport } = await import("../analytics/report.js");
      process.stdout.write(`${await writeReport(positionals[0]!)}\n`);
      return 0;
    },
  },
  {
    name: "compare",
    summary: "run specs on the same seeds; write results (mean, 95% CI, paired differences against a baseline) and charts",
    positionals: { names: "SPEC...", min: 1, max: Infinity },
    flags: {
      seeds: { value: "N", help: "N seeds for every spec, from the first spec's seed on (default 1)" },
      out: { value: "DIR", help: "parent folder of the comparison (default: runs/)" },
      iterations: { value: "N", help: "override the iterations of every RL stage" },
      backend: BACKEND,
      name: { value: "NAME", help: "the comparison's name: its folder is compare-NAME (default: the methods, grpo-vs-sspo)" },
      baseline: { value: "NAME", help: "the method the others are paired against (default: the first spec's)" },
      jobs: { value: "N", help: "runs at once, each in a process of its own, the cores shared between them (default 1); the numbers do not depend on it" },
      resume: { help: "continue an interrupted comparison: finished runs are kept, interrupted ones resume from their checkpoints" },
      results: { value: "DIR", help: "also copy the table and charts (not the runs) to DIR, e.g. to commit them" },
    },
    async run({ positionals, flags: f }) {
      const { compareCommand } = await import("./compare-command.js");
      return compareCommand(positionals, {
        seeds: intFlag(f.seeds, "seeds") ?? 1,
        out: strFlag(f.out),
        iterations: intFlag(f.iterations, "iterations"),
        backend: strFlag(f.backend),
        name: strFlag(f.name),
        baseline: strFlag(f.baseline),
        jobs: intFlag(f.jobs, "jobs"),
        resume: f.resume === true,
        results: strFlag(f.results),
      });
    },
  },
  {
    name: "world",
    summary: "how far the spec's arithmetic world keeps held-out expressions from training",
    details: "The training draws default to the spec's SFT budget (steps x batch of its sft stages), else 32,000.",
    positionals: { names: "SPEC", min: 1, max: 1 },
    flags: {
      train: { value: "N", help: "training problems drawn" },
      heldout: { value: "N", help: "held-out problems drawn (default 1000)" },
    },
    async run({ positionals, flags: f }) {
      const { worldCommand } = await import("./world-command.js");
      return worldCommand(positionals[0]!, { train: intFlag(f.train, "train"), heldOut: intFlag(f.heldout, "heldout") });
    },
  },
  {
    name: "export",
    summary: "copy a checkpoint's weights, config and tokenizer (no optimizer state)",
    positionals: { names: "RUN_DIR|CHECKPOINT DEST", min: 2, max: 2 },
    flags: {},
    async run({ positionals: p }) {
      const { exportCheckpoint } = await import("./export-command.js");
      process.stdout.write(exportCheckpoint(p[0]!, p[1]!) + "\n");
      return 0;
    },
  },
  {
    name: "kernel install",
    summary: 'register the Jupyter kernel "stepwise"',
    details: "Without --user or --prefix: /usr/local/share/jupyter as root, else as --user.",
    positionals: { names: "", min: 0, max: 0 },
    flags: {
      user: { help: "install for this user (JUPYTER_DATA_DIR or ~/.local/share/jupyter)" },
      prefix: { value: "DIR", help: "install into DIR/share/jupyter/kernels/stepwise" },
    },
    async run({ flags }) {
      if (flags.user === true && flags.prefix !== undefined) throw new UsageError("give --user or --prefix DIR, not both");
      const { installKernel } = await import("./kernel-install.js");
      const dir = await installKernel({ user: flags.user === true, prefix: strFlag(flags.prefix) });
      process.stdout.write(`installed kernelspec "stepwise" in ${dir}\n`);
      return 0;
    },
  },
];

export const EXIT_CODES = `exit codes: 0 ok, 1 diagnostics or a failed run, 2 usage error (130: a run interrupted by Ctrl-C)`;

/** `stepwise NAME ...` as the usage line shows it. */
export function usageLine(c: Command): string {
  const flags = Object.entries(c.flags).map(([k, f]) => {
    const word = f.value === undefined ? `--${k}` : f.optionalValue ? `--${k} [${f.value}]` : `--${k} ${f.value}`;
    return f.required ? word : `[${word}]`;
  });
  return ["stepwise", c.name, c.positionals.names, ...flags].filter((w) => w !== "").join(" ");
}

/** The text of `stepwise --help`. */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return `usage: stepwise <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n  stepwise <command> --help   options of one command\n  stepwise --version          the version\n\n${EXIT_CODES}\n`;
}

/** The text of `stepwise NAME --help`. */
export function commandHelp(c: Command): string {
  const flags = Object.entries(c.flags).map(([k, f]) => {
    const left = f.value === undefined ? `--${k}` : f.optionalValue ? `--${k} [${f.value}]` : `--${k} ${f.value}`;
    return `  ${left.padEnd(30)} ${f.help}`;
  });
  return (
    `usage: ${usageLine(c)}\n\n${c.summary}\n` +
    (c.details ? `${c.details}\n` : "") +
    `\noptions:\n${[...flags, `  ${"--help".padEnd(30)} this help`].join("\n")}\n\n${EXIT_CODES}\n`
  );
}

/** The command that `argv` starts with, and the words after its name. */
export function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  for (const c of COMMANDS) {
    const words = c.name.split(" ");
    if (words.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(words.length) };
  }
  return undefined;
}
