/**
 * Every committed notebook exported to HTML (Debian's `jupyter nbconvert --to html`, as a reader
 * without a kernel sees it) shows every chart: each chart output of the notebook is in the page as
 * an image, and headless Chromium (Debian's `chromium`) finds ink in it. A chart exported as an
 * SVG that nbconvert's sanitiser emptied, or not at all, fails here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PYTHON = "/usr/bin/python3";
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const NOTEBOOKS = readdirSync(join(REPO, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
const hasNbconvert = spawnSync(PYTHON, ["-c", "import nbconvert"], { stdio: "ignore" }).status === 0;

/** Runs in the exported page: for every image, its size and how many of its pixels are ink (not white or transparent). */
const PROBE = `<script>
window.addEventListener("load", () => {
  const images = [...document.images].map((img) => {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext("2d");
    let ink = 0;
    if (c.width > 0 && c.height > 0) {
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 128 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) ink++;
    }
    return { src: img.src.slice(0, 200), width: c.width, height: c.height, ink };
  });
  const pre = document.createElement("pre");
  pre.id = "stepwise-probe";
  pre.textContent = JSON.stringify(images);
  document.body.appendChild(pre);
});
</script>`;

interface Probe {
  src: string;
  width: number;
  height: number;
  ink: number;
}

/** The chart outputs of a notebook: the PNGs of its vega-lite bundles and the images its live views embed. */
function chartImages(nb: string): string[] {
  const json = JSON.parse(readFileSync(join(REPO, "notebooks", nb), "utf8")) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
  const out: string[] = [];
  for (const o of json.cells.flatMap((c) => c.outputs ?? [])) {
    const data = o.data ?? {};
    if (data["application/vnd.vegalite.v5+json"]) {
      assert.equal(typeof data["image/png"], "string", `${nb}: a chart output without its PNG`);
      assert.equal(data["image/svg+xml"], undefined, `${nb}: a chart output with an SVG (nbconvert's HTML would show the SVG)`);
      out.push([data["image/png"]].flat().join("").replace(/\s/g, ""));
    }
    const html = [data["text/html"] ?? ""].flat().join("");
    for (const m of html.matchAll(/src="data:image\/png;base64,([^"]+)"/g)) out.push(m[1]!);
  }
  return out;
}

test("every committed notebook's charts show in nbconvert's HTML, with ink, in headless Chromium", { timeout: 300_000 }, async (t) => {
  if (!hasNbconvert || !CHROMIUM) {
    t.skip("needs Debian's jupyter-nbconvert and chromium (.ci/run installs them)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "stepwise-html-"));
  try {
    for (const nb of NOTEBOOKS) {
      await t.test(nb, () => {
        const expected = chartImages(nb);
        assert.ok(expected.length > 0, `${nb} has no chart`);
        const r = spawnSync(PYTHON, ["-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", dir, join(REPO, "notebooks", nb)], { encoding: "utf8", timeout: 120_000 });
        assert.equal(r.status, 0, r.stderr);
        const file = join(dir, nb.replace(/\.ipynb$/, ".html"));
        const html = readFileSync(file, "utf8");
        writeFileSync(file, html.replace("</body>", `${PROBE}</body>`));
        const c = spawnSync(
          CHROMIUM!,
          ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", `--user-data-dir=${join(dir, "profile")}`, "--virtual-time-budget=20000", "--dump-dom", pathToFileURL(file).href],
          { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 },
        );
        const m = /<pre id="stepwise-probe">(.*?)<\/pre>/s.exec(c.stdout ?? "");
        assert.ok(m, `chromium printed no probe result (status ${c.status}): ${(c.stderr ?? "").slice(-2000)}`);
        const images = JSON.parse(m[1]!.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")) as Probe[];
        for (const png of expected) {
          const shown = images.find((i) => i.src.startsWith(`data:image/png;base64,${png.slice(0, 150)}`));
          assert.ok(shown, `${nb}: a chart is missing from the HTML export`);
          // ink: axes, labels and marks; an empty or all-white chart has none
          assert.ok(shown.width > 50 && shown.height > 50, `${nb}: a chart image of ${shown.width}×${shown.height}`);
          assert.ok(shown.ink > 0.01 * shown.width * shown.height, `${nb}: a blank chart (${shown.ink} ink pixels of ${shown.width}×${shown.height})`);
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
