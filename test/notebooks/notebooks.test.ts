/**
 * Every notebook in notebooks/ runs top to bottom under `jupyter nbconvert --execute` with the
 * Stepwise kernel and no error (issue 5). The kernelspec is installed into a temporary prefix
 * (found through JUPYTER_PATH), and the notebooks run from a temporary copy, so their runs/
 * directories and the kernelspec leave nothing behind and depend on nothing installed by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { installKernel } from "../../src/cli/kernel-install.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PYTHON = "/usr/bin/python3"; // Debian's Jupyter (the python3 first on PATH may lack it)
const NOTEBOOKS = readdirSync(join(REPO, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();

interface Output {
  output_type: string;
  ename?: string;
  evalue?: string;
  data?: Record<string, unknown>;
}

const hasNbconvert = spawnSync(PYTHON, ["-c", "import nbconvert, nbclient, jupyter_client"], { stdio: "ignore" }).status === 0;

test("the four example notebooks are there", () => {
  assert.deepEqual(NOTEBOOKS, ["01-quickstart.ipynb", "02-compare-methods.ipynb", "03-step-values.ipynb", "04-custom-advantage.ipynb"]);
});

test("every notebook executes under jupyter nbconvert with the stepwise kernel, without error", { timeout: 900_000 }, async (t) => {
  if (!hasNbconvert) {
    t.skip("jupyter-nbconvert / python3-nbclient are not installed under /usr/bin/python3 (.ci/run installs them)");
    return;
  }
  const root = mkdtempSync(join(tmpdir(), "stepwise-notebooks-"));
  try {
    const prefix = join(root, "prefix");
    await installKernel({ prefix });
    const work = join(root, "notebooks");
    cpSync(join(REPO, "notebooks"), work, { recursive: true, filter: (src) => !src.includes(`${join("notebooks", "runs")}`) });
    // the notebooks that start from the committed warm start load ../examples/checkpoints/arith-sft
    cpSync(join(REPO, "examples", "checkpoints"), join(root, "examples", "checkpoints"), { recursive: true });
    const outDir = join(root, "executed");
    const env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter") };
    for (const nb of NOTEBOOKS) {
      await t.test(nb, () => {
        const r = spawnSync(
          PYTHON,
          ["-m", "jupyter", "nbconvert", "--execute", "--to", "notebook", "--output-dir", outDir, "--ExecutePreprocessor.timeout=300", "--ExecutePreprocessor.kernel_name=stepwise", join(work, nb)],
          { cwd: work, env, encoding: "utf8", timeout: 400_000 },
        );
        assert.equal(r.status, 0, `nbconvert failed on ${nb}:\n${(r.stderr ?? "").split("\n").filter((l) => !/^\s*(File|\^|[a-z_]+ = |return|self\.|output)/.test(l)).join("\n").slice(-3000)}`);
        const executed = JSON.parse(readFileSync(join(outDir, nb), "utf8")) as { cells: { cell_type: string; outputs?: Output[] }[] };
        const code = executed.cells.filter((c) => c.cell_type === "code");
        const outputs = code.flatMap((c) => c.outputs ?? []);
        const errors = outputs.filter((o) => o.output_type === "error");
        assert.deepEqual(errors.map((o) => `${o.ename}: ${o.evalue}`), [], `${nb} has error outputs`);
        // every code cell ran, and the notebook shows at least one chart (vega-lite 5 + PNG)
        assert.ok(code.every((c) => Array.isArray(c.outputs)));
        assert.ok(outputs.some((o) => o.data?.["application/vnd.vegalite.v5+json"] && typeof o.data["image/png"] === "string"), `${nb} shows no chart`);
        // runs finished: the live view's last state says so
        // (nbformat stores multi-line strings as lists of lines)
        const text = (o: Output): string => [o.data?.["text/plain"] ?? ""].flat().join("");
        const live = outputs.map(text).filter((t) => /^\S+ · \S+ \d+\/\d+ · .*(finished|failed|interrupted)/.test(t));
        assert.ok(live.length > 0, `${nb}: no live run view`);
        assert.deepEqual(live.filter((t) => !/^\S+ · \S+ (\d+)\/\1 · finished\n/.test(t)), [], `${nb}: a run did not finish`);
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
