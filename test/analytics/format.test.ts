import { strict as assert } from "node:assert";
import { test } from "node:test";
import * as aq from "arquero";
import { tableFooter, tableToHTML, tableToText } from "../../src/analytics/format.js";

const big = aq.table({ i: Array.from({ length: 150 }, (_, i) => i), x: Array.from({ length: 150 }, (_, i) => i / 3) });

test("HTML shows `limit` rows (past arquero's silent 100) and the full size in a footer", () => {
  const html = tableToHTML(big, { limit: 120 });
  assert.equal(html.match(/<tr>/g)!.length, 1 + 120); // header + 120 rows
  assert.match(html, /150 rows × 2 columns \(showing the first 120\)/);
  const all = tableToHTML(big, { limit: 1000 });
  assert.equal(all.match(/<tr>/g)!.length, 1 + 150);
  assert.match(all, /150 rows × 2 columns</);
  assert.doesNotMatch(all, /showing/);
});

test("HTML default limit is 20; values escaped and rounded", () => {
  const html = tableToHTML(big);
  assert.equal(html.match(/<tr>/g)!.length, 21);
  assert.match(html, />0\.3333</);
  const t = aq.table({ "a<b": ["<script>", "x&y"] });
  const h = tableToHTML(t);
  assert.match(h, /&lt;script&gt;/);
  assert.match(h, /x&amp;y/);
  assert.doesNotMatch(h, /<script>/);
});

test("text fallback: aligned columns and the same footer", () => {
  const t = aq.table({ after: ["sft", "rl"], accuracy: [0.5, 0.75], note: [null, "ok"] });
  assert.equal(tableToText(t), ["after  accuracy  note", "sft    0.5", "rl     0.75      ok", "2 rows × 3 columns"].join("\n"));
  const cut = tableToText(big, { limit: 3 }).split("\n");
  assert.equal(cut.length, 1 + 3 + 1);
  assert.equal(cut[4], "150 rows × 2 columns (showing the first 3)");
});

test("footer singular forms", () => {
  assert.equal(tableFooter(aq.table({ a: [1] }), 10), "1 row × 1 column");
});
