/**
 * Runs the protocol suite (test_kernel.py: jupyter_kernel_test + DSL cells + live display +
 * interrupt) with Debian's Jupyter client under /usr/bin/python3.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PYTHON = "/usr/bin/python3";

function hasJupyterKit(): boolean {
  const r = spawnSync(PYTHON, ["-c", "import jupyter_kernel_test, jupyter_client"], { stdio: "ignore" });
  return r.status === 0;
}

test("the kernel passes the Jupyter protocol suite (test/kernel/test_kernel.py)", { timeout: 600_000 }, (t) => {
  if (!hasJupyterKit()) {
    t.skip("python3-jupyter-kernel-test / jupyter-client are not installed under /usr/bin/python3");
    return;
  }
  const r = spawnSync(PYTHON, ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", join("test", "kernel", "test_kernel.py")], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 590_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, `pytest failed:\n${out.slice(-6000)}`);
  assert.match(r.stdout, /\d+ passed/);
});
