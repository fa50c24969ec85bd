/**
 * The kernel exits when the process that started it dies (kernel/parent-watch.ts): a parent
 * starts the kernel, the kernel comes up (its heartbeat port answers), the parent is SIGKILLed,
 * and the kernel must be gone within seconds instead of living on as an orphan.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c: net.Socket = net.connect(port, "127.0.0.1", () => (c.destroy(), resolve(true)));
    c.on("error", () => resolve(false));
  });

test("the kernel exits when its parent process is killed", { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stepwise-orphan-"));
  const conn = path.join(dir, "kernel.json");
  const ports = { shell_port: await freePort(), iopub_port: await freePort(), stdin_port: await freePort(), control_port: await freePort(), hb_port: await freePort() };
  fs.writeFileSync(conn, JSON.stringify({ ...ports, ip: "127.0.0.1", transport: "tcp", signature_scheme: "hmac-sha256", key: "k" }));
  // the parent: starts the kernel as its child (as Jupyter does, naming itself in JPY_PARENT_PID), prints its pid, waits
  const parentCode = `
    const { spawn } = require("node:child_process");
    const k = spawn(process.execPath, ["--import", "tsx", ${JSON.stringify(path.join(REPO, "kernel", "main.ts"))}, ${JSON.stringify(conn)}],
      { cwd: ${JSON.stringify(REPO)}, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, JPY_PARENT_PID: String(process.pid) } });
    console.log(k.pid);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", parentCode], { stdio: ["ignore", "pipe", "inherit"] });
  const kernelPid = await new Promise<number>((resolve) => parent.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
  try {
    let up = false;
    for (let i = 0; i < 240 && !up; i++) {
      await sleep(500);
      up = await connects(ports.hb_port);
    }
    assert.ok(up, "the kernel came up");
    await sleep(1500);
    assert.ok(alive(kernelPid), "the kernel runs while its parent does");
    parent.kill("SIGKILL");
    let gone = false;
    for (let i = 0; i < 40 && !gone; i++) {
      await sleep(250);
      gone = !alive(kernelPid);
    }
    assert.ok(gone, "the kernel exited within 10 s of its parent's death");
  } finally {
    if (alive(kernelPid)) process.kill(kernelPid, "SIGKILL");
    if (parent.exitCode === null) parent.kill("SIGKILL");
  }
});
