import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, fnv1a, mulberry32, seededRandom } from "../src/random.js";

// Golden values taken from the generators before they were merged into src/random.ts
// (src/task/random.ts Rng, src/model/sample.ts seededRandom): a seed must keep its stream.
test("mulberry32: the published stream (seed 42 starts 0.6011037519201636)", () => {
  const r = mulberry32(42);
  assert.deepEqual([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
});

test("Rng is mulberry32, and derive hashes seed/key with FNV-1a", () => {
  const r = new Rng(42);
  assert.deepEqual([r.next(), r.next(), r.next()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const d = Rng.derive(7, "train/17");
  assert.deepEqual([d.next(), d.int(1, 6), d.pick(["a", "b", "c"])], [0.8642345576081425, 2, "c"]);
  assert.equal(fnv1a(""), 0x811c9dc5);
  assert.equal(fnv1a("a"), 0xe40c292c); // FNV-1a 32 test vector
});

test("seededRandom: the sampler's streams are unchanged", () => {
  const s = seededRandom(0);
  assert.deepEqual([s(), s(), s()], [0.3588899802416563, 0.10590326134115458, 0.675290479324758]);
  const s2 = seededRandom(123456789);
  assert.deepEqual([s2(), s2()], [0.18891781358979642, 0.4848657972179353]);
});
