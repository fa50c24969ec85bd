/**
 * JupyterLab itself (the project's Python environment: JupyterLab and Playwright from PyPI,
 * driving Debian's Chromium) runs notebooks/01-quickstart.ipynb with the Stepwise kernel: Run
 * All Cells, then Run All again in the same session, as anyone does after editing a cell. Every
 * cell finishes both times without an error or stderr output, the charts are drawn (canvas, svg
 * or img of non-zero size in the output areas), and the second pass reuses the finished run
 * instead of training again (src/run/rerun.ts).
 *
 * The server runs on a free localhost port with a token, from a temporary root holding a copy of
 * the notebook and the warm start it loads; the kernelspec is installed into a temporary prefix
 * (JUPYTER_PATH), and Jupyter's config, data, runtime, settings and workspaces folders are
 * temporary too, so nothing installed by hand is read and nothing is left behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installKernel } from "../../src/cli/kernel-install.js";
import { pythonSkip, ROOT, VENV_PYTHON } from "../helpers/python.js";

const NOTEBOOK = "01-quickstart.ipynb";
const SCRIPT = join(ROOT, "test", "notebooks", "jupyterlab_run_all.py");
/** A pass of Run All: the first trains (one to three minutes on two cores), the second shows the finished run. */
const PASS_TIMEOUT_S = 420;

interface Output {
  output_type: string;
  name?: string;
  ename?: string;
  evalue?: string;
  text: string;
  mimes: string[];
}
interface Cell {
  source: string;
  executionCount: number | null;
  outputs: Output[];
  charts: { tag: string; width: number; height: number }[];
  stderrNodes: number;
}
interface Pass {
  seconds: number;
  kernel: string;
  cells: Cell[];
}

function skipReason(): string | false {
  const venv = pythonSkip();
  if (venv) return venv;
  const r = spawnSync(VENV_PYTHON, ["-c", "import jupyterlab, playwright"], { stdio: "ignore" });
  if (r.status !== 0) return `${VENV_PYTHON} lacks jupyterlab or playwright`;
  if (!existsSync("/usr/lib/chromium/chromium") && !existsSync("/usr/bin/chromium")) return "Debian's chromium is not installed";
  return false;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function waitForServer(base: string, token: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`jupyter lab exited ${server.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${base}/api/status?token=${token}`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`jupyter lab did not answer within 120 s:\n${log()}`);
}

/** Shuts the server down with its kernels (its REST API), and kills what is left. */
async function stopServer(server: ChildProcess, base: string, token: string): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise<void>((done) => server.once("exit", () => done()));
  try {
    await fetch(`${base}/api/shutdown?token=${token}`, { method: "POST" });
  } catch {
    /* already gone */
  }
  const late = setTimeout(() => server.kill("SIGTERM"), 10_000);
  const later = setTimeout(() => server.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(late);
  clearTimeout(later);
}

test("JupyterLab runs the quickstart notebook twice in one session: no error, the charts drawn, the second pass reuses the run", { timeout: 2 * PASS_TIMEOUT_S * 1000 + 240_000 }, async (t) => {
  const skip = skipReason();
  if (skip) {
    t.skip(skip);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), "stepwise-jupyterlab-"));
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const base = `http://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  let log = "";
  try {
    const prefix = join(root, "prefix");
    await installKernel({ prefix });
    const work = join(root, "work");
    mkdirSync(join(work, "notebooks"), { recursive: true });
    cpSync(join(ROOT, "notebooks", NOTEBOOK), join(work, "notebooks", NOTEBOOK));
    // the notebook loads ../examples/checkpoints/arith-sft
    cpSync(join(ROOT, "examples", "checkpoints", "arith-sft"), join(work, "examples", "checkpoints", "arith-sft"), { recursive: true });
    // every cell laid out (JupyterLab 4 skips rendering off-screen cells by default), so every chart has a size
    const settings = join(root, "settings");
    mkdirSync(join(settings, "@jupyterlab", "notebook-extension"), { recursive: true });
    writeFileSync(join(settings, "@jupyterlab", "notebook-extension", "tracker.jupyterlab-settings"), JSON.stringify({ windowingMode: "none" }));
    const env = {
      ...process.env,
      JUPYTER_PATH: join(prefix, "share", "jupyter"),
      JUPYTER_CONFIG_DIR: join(root, "config"),
      JUPYTER_DATA_DIR: join(root, "data"),
      JUPYTER_RUNTIME_DIR: join(root, "runtime"),
      JUPYTERLAB_SETTINGS_DIR: settings,
      JUPYTERLAB_WORKSPACES_DIR: join(root, "workspaces"),
      PYTHONDONTWRITEBYTECODE: "1",
    };
    // prettier-ignore
    server = spawn(VENV_PYTHON, ["-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0", `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${work}`,
      "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
      "--LabApp.extension_manager=readonly", ...(process.getuid?.() === 0 ? ["--allow-root"] : [])],
      { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    server.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const tail = () => log.split("\n").slice(-60).join("\n");
    await waitForServer(base, token, server, tail);

    const t0 = Date.now();
    const r = spawnSync(VENV_PYTHON, [SCRIPT, base, token, `notebooks/${NOTEBOOK}`, join(root, "chromium-profile"), String(PASS_TIMEOUT_S)], {
      encoding: "utf8",
      timeout: 2 * PASS_TIMEOUT_S * 1000 + 180_000,
      maxBuffer: 64 << 20,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    t.diagnostic(`JupyterLab session: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(r.status, 0, `the Playwright script failed (${r.status ?? r.signal}):\n${(r.stdout ?? "").slice(-3000)}\n${(r.stderr ?? "").slice(-3000)}\nserver:\n${tail()}`);
    const { passes } = JSON.parse(r.stdout) as { passes: Pass[] };
    assert.equal(passes.length, 2);
    passes.forEach((pass, i) => {
      const name = `Run All ${i + 1}`;
      t.diagnostic(`${name}: ${pass.seconds} s`);
      assert.equal(pass.kernel, "idle", name);
      assert.equal(pass.cells.length, 7, `${name}: ${pass.cells.length} code cells`);
      for (const c of pass.cells) {
        const where = `${name}, cell "${c.source.split("\n")[0]}"`;
        assert.ok(c.executionCount !== null, `${where} did not run`);
        const bad = c.outputs.filter((o) => o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"));
        assert.deepEqual(bad.map((o) => o.ename ? `${o.ename}: ${o.evalue}` : o.text), [], `${where} has error output`);
        assert.equal(c.stderrNodes, 0, `${where} shows stderr or a traceback`);
      }
      // the charts: each sw.showChart cell draws one, and the run's live view shows its own
      const charted = pass.cells.filter((c) => c.source.includes("showChart") || c.source.startsWith("%%stepwise run"));
      assert.ok(charted.length >= 4, `${name}: ${charted.length} chart cells`);
      for (const c of charted) {
        const drawn = c.charts.filter((x) => x.width > 0 && x.height > 0);
        assert.ok(drawn.length > 0, `${name}, cell "${c.source.split("\n")[0]}": no chart drawn (${JSON.stringify(c.charts)})`);
      }
    });
    // each pass ran every cell again (counts moved on), and the second showed the finished run instead of training
    const [first, second] = passes as [Pass, Pass];
    const maxFirst = Math.max(...first.cells.map((c) => c.executionCount!));
    assert.ok(second.cells.every((c) => c.executionCount! > maxFirst), "the second Run All ran every cell again");
    const view = (p: Pass) => p.cells.find((c) => c.source.startsWith("%%stepwise run"))!.outputs.map((o) => o.text).join("\n");
    assert.match(view(first), /quickstart-notebook · rl 10\/10 · finished\n/);
    assert.doesNotMatch(view(first), /not trained again/);
    assert.match(view(second), /quickstart-notebook · rl 10\/10 · finished\n\[#+\]\nshown from \S+quickstart-notebook: a finished run of this same spec \(not trained again\)/);
  } finally {
    if (server) await stopServer(server, base, token);
    rmSync(root, { recursive: true, force: true });
  }
});
