/**
 * Starts a kernel on the connection file named by the first argument: the protocol server, the
 * process-level handlers (SIGINT interrupts the running cell; nothing a cell leaves behind kills
 * the kernel; the kernel exits when its parent process is gone). kernel/main.ts serves the real compiler and runner; the kernel's tests serve
 * stand-ins (test/kernel/fixtures/fake-main.ts).
 */
import { KernelServer } from "./protocol/server.js";
import { type KernelDeps, StepwiseKernel } from "./kernel.js";
import { kernelLog } from "./log.js";
import { watchParent } from "./parent-watch.js";

export async function serveKernel(deps: KernelDeps = {}, entry = "kernel/main.ts"): Promise<void> {
  const connectionFile = process.argv[2];
  if (!connectionFile) {
    kernelLog(`usage: node --import tsx ${entry} CONNECTION_FILE`);
    process.exit(2);
  }

  const kernel = new StepwiseKernel(deps);
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

  // no orphans: exit when the client that started the kernel is gone (kernel/parent-watch.ts)
  watchParent((why) => {
    kernelLog(`${why}: exiting`);
    kernel.shutdown();
    process.exit(0);
  });

  await server.start();
}
