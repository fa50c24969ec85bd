import { strict as assert } from "node:assert";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { writeReport } from "../../src/analytics/report.js";
import { FIXTURE_DIR } from "./make-fixture.js";

const tmp = mkdtempSync(join(tmpdir(), "stepwise-report-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("writeReport writes a self-contained report.html into the run directory", async () => {
  const dir = join(tmp, "run");
  cpSync(FIXTURE_DIR, dir, { recursive: true });
  const path = await writeReport(dir);
  assert.equal(path, join(dir, "report.html"));
  assert.ok(existsSync(path));
  const html = readFileSync(path, "utf8");
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<h1>Stepwise run: sample<\/h1>/);
  // summary: final eval, method, tokens sampled, probe AUC
  assert.match(html, /<dt>final eval \(after rl\): accuracy<\/dt><dd>0\.7500<\/dd>/);
  assert.match(html, /<dd>sspo\(gamma = 1, lambda = 0\.95\)<\/dd>/);
  assert.match(html, /<dt>AUC of belief change \(essential vs other\)<\/dt>/);
  // charts: accuracy/length, entropy/KL, step advantage, step value, step value by label, credit, rewards/advantages
  assert.equal(html.match(/<svg/g)?.length, 7);
  assert.match(html, /<h2>Step advantage<\/h2>/);
  // the credit panel (the fixture's steps are labelled) and its summary line
  assert.match(html, /<h2>Credit assignment against the step labels<\/h2>/);
  assert.match(html, /<dt>credit AUC essential &gt; redundant \(mean over RL iterations\)<\/dt><dd>[01]\.\d{4}<\/dd>/);
  // wide tables scroll inside their box
  assert.match(html, /<div class="stepwise-table" style="overflow-x: auto; max-width: 100%;">/);
  // tables with their size footers
  assert.match(html, /2 rows × 7 columns/); // evaluations
  assert.match(html, /3 rows × 13 columns/); // training metrics
  // self-contained: no scripts, no stylesheets or images fetched, no URLs other than XML namespaces
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);
  assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i);
  const urls = (html.match(/https?:\/\/[^\s"')]+/g) ?? []).filter((u) => !/^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink)$/.test(u));
  assert.deepEqual(urls, []);
});

test("writeReport on a directory that is not a run says which file is missing", async () => {
  await assert.rejects(writeReport(tmp), /run\.json: missing/);
});
