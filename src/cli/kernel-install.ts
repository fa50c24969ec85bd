/**
 * `stepwise kernel install [--user | --prefix DIR]`: writes the Jupyter kernelspec `stepwise`.
 *
 * kernel.json runs the kernel of the package that ran the install, with the same node binary:
 * compiled (the `stepwise` command, dist/kernel/main.js) or, from the sources (tests,
 * `npm run stepwise`), kernel/main.ts with tsx as an `--import` loader. One process either way,
 * so SIGINT reaches the kernel (`interrupt_mode: "signal"`). All paths are absolute, so notebooks
 * in any folder start the same kernel.
 *
 * Where (as `jupyter kernelspec install` does):
 *   --prefix DIR   DIR/share/jupyter/kernels/stepwise   (tests: a temp DIR + JUPYTER_PATH=DIR/share/jupyter)
 *   --user         $JUPYTER_DATA_DIR/kernels/stepwise, else ~/.local/share/jupyter/kernels/stepwise
 *                  (~/Library/Jupyter on macOS, %APPDATA%\jupyter on Windows)
 *   neither        /usr/local/share/jupyter/kernels/stepwise as root, else as --user
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { COMPILED, PACKAGE_ROOT as REPO_ROOT, packageFile } from "../package-info.js";

export const KERNEL_NAME = "stepwise";

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

/** The kernelspec contents for this package and this node. */
export function kernelSpec(): KernelSpec {
  if (COMPILED) {
    return {
      argv: [process.execPath, packageFile("kernel/main"), "{connection_file}"],
      display_name: "Stepwise (TypeScript)",
      language: "typescript",
      interrupt_mode: "signal",
      metadata: { debugger: false },
    };
  }
  const tsxLoader = createRequire(join(REPO_ROOT, "package.json")).resolve("tsx");
  return {
    argv: [process.execPath, "--import", pathToFileURL(tsxLoader).href, join(REPO_ROOT, "kernel", "main.ts"), "{connection_file}"],
    display_name: "Stepwise (TypeScript)",
    language: "typescript",
    interrupt_mode: "signal",
    // tsx's esbuild service out of the kernel's process group, so that SIGINT spares it (kernel/esbuild-detached.sh)
    env: { ESBUILD_BINARY_PATH: join(REPO_ROOT, "kernel", "esbuild-detached.sh") },
    metadata: { debugger: false },
  };
}

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return join(process.env.APPDATA ?? homedir(), "jupyter");
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "jupyter");
}

/** The folder the kernelspec goes to (see the table above). */
export function kernelDir(opts: { user?: boolean; prefix?: string } = {}): string {
  if (opts.user && opts.prefix) throw new Error("give --user or --prefix, not both");
  if (opts.prefix) return join(resolve(opts.prefix), "share", "jupyter", "kernels", KERNEL_NAME);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!opts.user && isRoot) return join("/usr/local/share/jupyter/kernels", KERNEL_NAME);
  return join(userDataDir(), "kernels", KERNEL_NAME);
}

/**
 * Writes kernel.json; returns the kernelspec folder.
 *
 * @example
 *   const dir = await installKernel({ prefix: tmp }); // then JUPYTER_PATH=tmp/share/jupyter
 */
export async function installKernel(opts: { user?: boolean; prefix?: string } = {}): Promise<string> {
  const dir = kernelDir(opts);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(kernelSpec(), null, 2) + "\n");
  return dir;
}

/** CLI: `stepwise kernel install [--user | --prefix DIR]` (argv after "install"). */
export async function kernelInstallMain(argv: string[]): Promise<number> {
  const opts: { user?: boolean; prefix?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--user") opts.user = true;
    else if (a === "--prefix" && argv[i + 1]) opts.prefix = argv[++i];
    else if (a.startsWith("--prefix=")) opts.prefix = a.slice("--prefix=".length);
    else {
      process.stderr.write(`stepwise kernel install: unknown argument "${a}"; usage: stepwise kernel install [--user | --prefix DIR]\n`);
      return 2;
    }
  }
  try {
    const dir = await installKernel(opts);
    process.stdout.write(`Installed kernelspec ${KERNEL_NAME} in ${dir}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stepwise kernel install: ${(e as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await kernelInstallMain(process.argv.slice(2));
}
