/**
 * Kernel entry point: `node --import tsx kernel/main.ts CONNECTION_FILE` (what the kernelspec
 * written by src/cli/kernel-install.ts runs).
 */
import { KernelServer } from "./protocol/server.js";
import { StepwiseKernel } from "./kernel.js";
import { kernelLog } from "./log.js";

const connectionFile = process.argv[2];
if (!connectionFile) {
  kernelLog("usage: node --import tsx kernel/main.ts CONNECTION_FILE");
  process.exit(2);
}

const kernel = new StepwiseKernel();
const server = new KernelServer(kernel, connectionFile);

// interrupt_mode "signal": Jupyter sends SIGINT to interrupt the running cell. A cell blocked in
// synchronous code is stopped by tslab's `breakOnSigint`; an awaiting cell by this handler.
process.on("SIGINT", () => kernel.interrupt());
// The kernel survives whatever a cell leaves behind.
process.on("uncaughtException", (e) => console.error("Uncaught exception:", e));
process.on("unhandledRejection", (e) => {
  if (e instanceof Error && (e.name === "InterruptedError" || e.message === "Interrupted asynchronously")) return;
  console.error("Unhandled promise rejection:", e);
});

await server.start();
