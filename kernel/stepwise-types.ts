/**
 * Type declarations of the `stepwise` package for tslab's TypeScript checker.
 *
 * tslab type-checks each cell with its own TypeScript (5.0, Node10 resolution, rootDir = cwd). If
 * `import "stepwise"` resolved to the package's .ts sources, tslab would treat every source file
 * as part of the cell: check it and re-emit it as a "side output" (and fail for files outside
 * the notebook's folder). So the checker gets declarations instead: `tsc --emitDeclarationOnly`
 * of src/index.ts into node_modules/.cache/stepwise-kernel/<hash of the sources>/, built once in
 * a child process at kernel start and reused while the sources are unchanged. Until it is ready
 * (or if it fails), `stepwise` is typed `any`; at run time cells always get the real module.
 * A compiled kernel (dist/kernel/) has the package's own declarations: dist/src/index.d.ts.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { COMPILED } from "../src/package-info.js";
import { REPO_ROOT } from "./paths.js";

const SOURCE_DIRS = ["src", "dsl"];

/** A hash of the paths, sizes and mtimes of the package's .ts files. */
export function sourcesHash(root = REPO_ROOT): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) {
        const s = statSync(p);
        h.update(`${p}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return h.digest("hex").slice(0, 16);
}

/**
 * Resolves to the path of the generated `index.d.ts`, or null when the package has no
 * src/index.ts or tsc failed to emit it.
 */
export async function ensureStepwiseTypes(root = REPO_ROOT): Promise<string | null> {
  if (COMPILED && root === REPO_ROOT) {
    const built = join(root, "dist", "src", "index.d.ts");
    return existsSync(built) ? built : null;
  }
  const entry = join(root, "src", "index.ts");
  if (!existsSync(entry)) return null;
  const base = join(root, "node_modules", ".cache", "stepwise-kernel");
  const out = join(base, sourcesHash(root));
  const index = join(out, "src", "index.d.ts");
  if (existsSync(index)) return index;
  const tmp = `${out}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  // prettier-ignore
  const args = [tsc, entry, "--declaration", "--emitDeclarationOnly", "--outDir", tmp, "--rootDir", root,
    "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022", "--skipLibCheck",
    "--strict", "--esModuleInterop", "--resolveJsonModule", "--allowImportingTsExtensions", "--types", "node"];
  await new Promise<void>((done) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: "ignore" });
    child.on("exit", () => done());
    child.on("error", () => done());
  });
  // tsc exits non-zero on type errors but still emits declarations; keep them if the entry is there.
  if (!existsSync(join(tmp, "src", "index.d.ts"))) {
    rmSync(tmp, { recursive: true, force: true });
    return null;
  }
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another kernel won the race
  }
  return existsSync(index) ? index : null;
}
