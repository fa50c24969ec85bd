/**
 * The project's Python environment for tests: `.venv/bin/python` at the repository root (created
 * by test/python/ensure-venv.sh, npm test's pretest). A test that needs it fails when it is
 * missing, unless STEPWISE_NO_VENV=1 says to skip it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VENV_PYTHON = path.join(ROOT, ".venv", "bin", "python");

/** A skip reason when the environment is absent and STEPWISE_NO_VENV=1; throws when it is absent otherwise. */
export function pythonSkip(): string | false {
  if (fs.existsSync(VENV_PYTHON)) return false;
  if (process.env.STEPWISE_NO_VENV === "1") return "STEPWISE_NO_VENV=1: no .venv";
  throw new Error(`${VENV_PYTHON} is missing: run \`bash test/python/ensure-venv.sh\` (npm test does)`);
}

/** Runs the venv's python; throws with its output when it exits non-zero. */
export function runPython(args: string[], opts: { input?: string; cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): string {
  const r = spawnSync(VENV_PYTHON, args, {
    input: opts.input,
    cwd: opts.cwd ?? ROOT,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", OMP_NUM_THREADS: "1", ...opts.env },
  });
  if (r.status !== 0) throw new Error(`python ${args.join(" ")} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
