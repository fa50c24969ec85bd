/**
 * Kernel entry point: `node --import tsx kernel/main.ts CONNECTION_FILE` (what the kernelspec
 * written by src/cli/kernel-install.ts runs). DSL cells use dsl/index.ts and src/run/runner.ts.
 */
import { serveKernel } from "./serve.js";

await serveKernel();
