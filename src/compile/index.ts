/**
 * `stepwise compile SPEC --target trl|verl --out DIR`: a self-contained Python package that trains
 * the spec on an engine that scales, with the spec's advantage compiled to PyTorch from the formula
 * IR (python-advantage.ts) and the runtime, segmentation, probe and verifier modules of
 * src/compile/python/ copied beside it. What a target cannot express is refused, naming the
 * construct (targets.ts). docs/engines.md is the user's guide.
 *
 * DIR is created; an existing DIR must be empty or hold an earlier compile (stepwise_spec.json):
 * only the files a compile writes are replaced, nothing is deleted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { compile as dslCompile } from "../../dsl/index.js";
import { formatFormula } from "../../dsl/formula-text.js";
import type { ExperimentPlan } from "../../dsl/plan.js";
import { createTask } from "../task/index.js";
import { generateAdvantageModule } from "./python-advantage.js";
import { refusals, rlStage, TARGETS, type Target } from "./targets.js";
import { trlLaunchScript, trlReadme } from "./trl-files.js";
import { verlConfig, verlReadme } from "./verl-files.js";

export { generateAdvantageModule } from "./python-advantage.js";
export { refusals, grpoConfig, TARGETS, type Target } from "./targets.js";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The hand-written Python modules every package carries, copied verbatim. */
export const RUNTIME_FILES = ["stepwise_runtime.py", "stepwise_steps.py", "stepwise_task.py", "stepwise_probes.py"];
const TARGET_FILES: Record<Target, string[]> = { trl: ["stepwise_trl.py"], verl: ["stepwise_verl.py"] };

/** Where the Python sources live: src/compile/python/ beside this module. */
export function pythonSourceDir(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), "python");
}

const fail = (stderr: string, exitCode = 1): CommandResult => ({ exitCode, stdout: "", stderr: stderr.endsWith("\n") ? stderr : stderr + "\n" });

/** The spec compiled (purpose "any": what a target needs is checked by targets.ts refusals, naming each construct). */
function loadPlan(specPath: string): ExperimentPlan | CommandResult {
  let text: string;
  try {
    text = fs.readFileSync(specPath, "utf8");
  } catch (err) {
    return fail(`${specPath}: cannot read the spec (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const { plan, diagnostics } = dslCompile(text, { file: specPath, purpose: "any" });
  const errors = diagnostics.filter((d) => (d.severity ?? "error") === "error");
  if (!plan || errors.length > 0) {
    return fail(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}${d.hint ? ` (${d.hint})` : ""}`).join("\n") || `${specPath}: the spec did not compile`);
  }
  return plan;
}

/** The prompts of the spec's task for its RL stage, as JSON lines {prompt, question, reference}. */
function promptsJsonl(plan: ExperimentPlan, specDir: string): string {
  const rl = rlStage(plan);
  const task = plan.task!.kind === "jsonl" ? createTask({ ...plan.task!, path: path.resolve(specDir, plan.task!.path) }, plan.seed) : createTask(plan.task!, plan.seed);
  const n = rl.iterations * rl.prompts;
  return task.train(n).map((p) => JSON.stringify({ prompt: p.prompt, question: p.question, reference: p.reference }) + "\n").join("");
}

/**
 * Writes the package; returns what it wrote (stdout) or why it cannot (stderr, exit 1).
 * @example await compileCommand("examples/quickstart.sw", { target: "trl", out: "build/quickstart-trl" })
 */
export async function compileCommand(specPath: string, opts: { target: string; out: string }): Promise<CommandResult> {
  if (!(TARGETS as readonly string[]).includes(opts.target)) return fail(`--target must be ${TARGETS.join(" or ")}, not "${opts.target}"`, 2);
  const target = opts.target as Target;
  const loaded = loadPlan(specPath);
  if ("exitCode" in loaded) return loaded;
  const plan = loaded;
  const refused = refusals(plan, target);
  if (refused.length > 0) return fail(refused.map((m) => `${specPath}: cannot compile to ${target}: ${m}`).join("\n"));

  const out = path.resolve(opts.out);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) return fail(`--out ${opts.out}: not a directory`);
    const entries = fs.readdirSync(out);
    if (entries.length > 0 && !entries.includes("stepwise_spec.json")) {
      return fail(`--out ${opts.out}: the folder is not empty and holds no earlier compile (stepwise_spec.json); pick a new folder`);
    }
  }
  const specDir = path.dirname(path.resolve(specPath));
  let prompts: string;
  try {
    prompts = promptsJsonl(plan, specDir);
  } catch (err) {
    return fail(`${specPath}: the task's prompts: ${(err as Error).message}`);
  }
  const modelPath = plan.model?.kind === "load" ? path.resolve(specDir, plan.model.path) : null;
  const files: Record<string, string> = {
    "stepwise_advantages.py": generateAdvantageModule(plan, path.basename(specPath), (f) => formatFormula(f)),
    "stepwise_spec.json": JSON.stringify(plan, null, 1) + "\n",
    "prompts.jsonl": prompts,
  };
  if (target === "trl") {
    files["train_trl.py"] = trlLaunchScript(plan, modelPath);
    files["README.md"] = trlReadme(plan, path.basename(specPath));
  } else {
    files["verl_config.yaml"] = verlConfig(plan, modelPath);
    files["stepwise_package.json"] = JSON.stringify({ target, source: path.basename(specPath), modelPath }, null, 1) + "\n";
    files["README.md"] = verlReadme(plan, path.basename(specPath));
  }
  const src = pythonSourceDir();
  for (const f of [...RUNTIME_FILES, ...TARGET_FILES[target]]) files[f] = fs.readFileSync(path.join(src, f), "utf8");
  fs.mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(out, name), text);
  const shown = path.relative(process.cwd(), out) || ".";
  const run = target === "trl" ? `python ${path.join(shown, "train_trl.py")}` : `see ${path.join(shown, "README.md")}`;
  return { exitCode: 0, stdout: `${shown}: ${Object.keys(files).length} files for ${target} (${run})\n`, stderr: "" };
}
