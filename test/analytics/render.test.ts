import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { describe, test } from "node:test";
import * as aq from "arquero";
import { accuracyTokensChart, stepValueChart } from "../../src/analytics/charts.js";
import { DEJAVU_SANS, chartToSVG, columnTableBundle, pngSize, renderChartBundle, svgSize, svgToPNG } from "../../src/analytics/render.js";
import { loadRun } from "../../src/analytics/tables.js";
import { FIXTURE_DIR } from "./make-fixture.js";

describe("rendering", async () => {
  const run = await loadRun(FIXTURE_DIR);
  const spec = stepValueChart(run.steps, { width: 300, height: 150 });

  test("SVG: a vega rendering of the chart, sized by the spec", async () => {
    const svg = await chartToSVG(spec);
    assert.match(svg, /^<svg/);
    assert.match(svg, /step index/); // axis title
    const { width, height } = svgSize(svg);
    // the plot area is 300×150; axes, title and legend add to it
    assert.ok(width > 300 && width < 600, `width ${width}`);
    assert.ok(height > 150 && height < 300, `height ${height}`);
  });

  test("PNG: non-empty, the SVG's pixel size (×scale), read from IHDR", async () => {
    assert.ok(existsSync(DEJAVU_SANS), "fonts-dejavu-core provides DejaVuSans.ttf");
    const svg = await chartToSVG(spec);
    const { width, height } = svgSize(svg);
    const png = svgToPNG(svg);
    assert.ok(png.length > 2000, `png of ${png.length} bytes`);
    assert.deepEqual(pngSize(png), { width, height });
    assert.deepEqual(pngSize(svgToPNG(svg, { scale: 2 })), { width: 2 * width, height: 2 * height });
  });

  test("text is drawn: a chart with axis labels has more ink than one without", () => {
    const blank = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="white"/></svg>';
    const text = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="white"/><text x="10" y="30" font-family="DejaVu Sans, sans-serif" font-size="20">Stepwise</text></svg>';
    // PNG deflate: an all-white image compresses to almost nothing, drawn glyphs do not
    assert.ok(svgToPNG(text).length > svgToPNG(blank).length + 200);
  });

  test("chart bundle: vega-lite v5 JSON, base64 PNG and text; no SVG (nbconvert would pick it and blank it), never text/html", async () => {
    const spec = accuracyTokensChart(run.metrics);
    const bundle = await renderChartBundle(spec);
    assert.deepEqual(Object.keys(bundle).sort(), ["application/vnd.vegalite.v5+json", "image/png", "text/plain"]);
    assert.equal(bundle["text/plain"], "<chart: Accuracy and mean tokens over training>");
    assert.equal(bundle["application/vnd.vegalite.v5+json"].$schema, "https://vega.github.io/schema/vega-lite/v5.json");
    const png = Buffer.from(bundle["image/png"], "base64");
    assert.deepEqual(pngSize(png), svgSize(await chartToSVG(spec)));
  });

  test("table bundle: HTML with footer and a text fallback", () => {
    const t = aq.table({ a: [1, 2, 3] });
    const b = columnTableBundle(t, { limit: 2 });
    assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
    assert.match(b["text/html"], /3 rows × 1 column \(showing the first 2\)/);
    assert.equal(b["text/plain"], "a\n1\n2\n3 rows × 1 column (showing the first 2)");
  });

  test("pngSize rejects what is not a PNG", () => {
    assert.throws(() => pngSize(new Uint8Array(30)), /not a PNG/);
  });
});
