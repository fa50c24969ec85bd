import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { installKernel, kernelDir, kernelInstallMain } from "../../src/cli/kernel-install.js";

test("installKernel --prefix writes an absolute, signal-interrupted kernelspec", async () => {
  const prefix = mkdtempSync(join(tmpdir(), "sw-kspec-"));
  try {
    const dir = await installKernel({ prefix });
    assert.equal(dir, join(prefix, "share", "jupyter", "kernels", "stepwise"));
    const spec = JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8"));
    assert.equal(spec.display_name, "Stepwise (TypeScript)");
    assert.equal(spec.language, "typescript");
    assert.equal(spec.interrupt_mode, "signal");
    assert.equal(spec.argv[0], process.execPath);
    assert.equal(spec.argv[1], "--import");
    assert.match(spec.argv[2], /^file:\/\/.*tsx.*loader\.mjs$/);
    assert.ok(isAbsolute(spec.argv[3]) && spec.argv[3].endsWith(join("kernel", "main.ts")) && existsSync(spec.argv[3]));
    assert.equal(spec.argv[4], "{connection_file}");
    // esbuild (tsx) in its own process group: SIGINT to the kernel's group must not kill it
    const esbuild = spec.env.ESBUILD_BINARY_PATH as string;
    assert.ok(isAbsolute(esbuild) && esbuild.endsWith(join("kernel", "esbuild-detached.sh")));
    const r = spawnSync(esbuild, ["--version"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join("node_modules", "esbuild", "package.json"), "utf8")).version);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test("kernelDir: --user goes to JUPYTER_DATA_DIR; --user with --prefix is refused", () => {
  const old = process.env.JUPYTER_DATA_DIR;
  process.env.JUPYTER_DATA_DIR = "/tmp/jdata";
  try {
    assert.equal(kernelDir({ user: true }), join("/tmp/jdata", "kernels", "stepwise"));
  } finally {
    if (old === undefined) delete process.env.JUPYTER_DATA_DIR;
    else process.env.JUPYTER_DATA_DIR = old;
  }
  assert.throws(() => kernelDir({ user: true, prefix: "/x" }), /not both/);
});

test("the CLI entry refuses unknown arguments with a usage line", async () => {
  const write = process.stderr.write;
  let err = "";
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    assert.equal(await kernelInstallMain(["--sys-prefix"]), 2);
  } finally {
    process.stderr.write = write;
  }
  assert.match(err, /usage: stepwise kernel install \[--user \| --prefix DIR\]/);
});
