import { strict as assert } from "node:assert";
import { after, test } from "node:test";
import * as aq from "arquero";
import { registerSink } from "../../src/display/index.js";
import { entropyKlChart } from "../../src/analytics/charts.js";
import { rich, showChart, showTable, updateChart } from "../../src/analytics/show.js";

after(() => registerSink(null));

test("showChart / updateChart / showTable send the analytics bundles through the kernel's sink", async () => {
  const sent: { msgType: string; content: Record<string, any> }[] = [];
  registerSink({ kind: "stepwise", send: (msgType, content) => sent.push({ msgType, content }) });
  const metrics = aq.from([{ stage: "rl", iteration: 0, time: 1, entropy: 1.2, kl: 0 }]);
  const id = await showChart(entropyKlChart(metrics), { id: true });
  assert.ok(id);
  await updateChart(id!, entropyKlChart(metrics));
  showTable(aq.table({ a: [1, 2] }));
  assert.deepEqual(sent.map((m) => m.msgType), ["display_data", "update_display_data", "display_data"]);
  assert.equal(sent[0]!.content.transient.display_id, id);
  assert.equal(sent[1]!.content.transient.display_id, id);
  assert.deepEqual(Object.keys(sent[0]!.content.data).sort(), ["application/vnd.vegalite.v5+json", "image/png", "text/plain"]);
  assert.match(sent[0]!.content.data["image/png"], /^iVBORw0KGgo/); // base64 of the PNG signature
  assert.deepEqual(Object.keys(sent[2]!.content.data).sort(), ["text/html", "text/plain"]);
});

test("rich(table) says how it wants to be shown", () => {
  const r = rich(aq.table({ a: [1, 2, 3] }), { limit: 2 }) as any;
  const b = r[Symbol.for("stepwise.mimeBundle")]();
  assert.match(b["text/html"], /3 rows × 1 column \(showing the first 2\)/);
  assert.equal(String(r), "a\n1\n2\n3 rows × 1 column (showing the first 2)");
});
