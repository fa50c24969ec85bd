/** validateBatch: every malformed field is named with its group/response and what was expected. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchError, validateBatch } from "../../src/rl/batch-validate.js";
import { loadFixture } from "./formula-helpers.js";

/** The fixture with one change applied to groups[gi].responses[ri]. */
function broken(gi: number, ri: number, change: (r: Record<string, unknown>) => void): unknown {
  const b = loadFixture("ragged.json") as unknown as { groups: { responses: Record<string, unknown>[] }[] };
  change(b.groups[gi].responses[ri]);
  return b;
}

function problems(json: unknown): string[] {
  try {
    validateBatch(json);
  } catch (err) {
    assert.ok(err instanceof BatchError, `expected a BatchError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("the batch was accepted");
}

test("the fixtures are valid and come back as they were", () => {
  const b = loadFixture("ragged.json");
  assert.equal(validateBatch(b), b);
  validateBatch(loadFixture("sspo.json"));
});

test("step_ends: the last must equal the token count, strictly increasing, starting at 1 or more", () => {
  assert.deepEqual(problems(broken(1, 0, (r) => (r.step_ends = [1, 3]))), [
    "groups[1].responses[0].step_ends: last value 3 must equal the token count 2",
  ]);
  assert.deepEqual(problems(broken(0, 1, (r) => (r.step_ends = [2, 2, 3]))), [
    "groups[0].responses[1].step_ends[1]: value 2 must be greater than the previous end 2 (strictly increasing)",
  ]);
  assert.deepEqual(problems(broken(0, 0, (r) => (r.step_ends = [0, 2]))), [
    "groups[0].responses[0].step_ends[0]: value 0 must be at least 1 (a step holds at least one token)",
  ]);
  assert.deepEqual(problems(broken(0, 0, (r) => (r.step_ends = []))), [
    "groups[0].responses[0].step_ends: is empty, but the response has 2 tokens (the last end must equal the token count)",
  ]);
  assert.deepEqual(problems(broken(0, 0, (r) => (r.step_ends = [1.5, 2]))), [
    "groups[0].responses[0].step_ends[0]: expected an integer, found 1.5",
  ]);
});

test("token arrays must match token_logp's length; probes need K+1 values; labels one per step", () => {
  assert.deepEqual(problems(broken(0, 1, (r) => (r.token_logp_ref = [-1, -1]))), [
    "groups[0].responses[1].token_logp_ref: has 2 values, must have one per token (token_logp has 3)",
  ]);
  assert.deepEqual(problems(broken(0, 2, (r) => (r.token_entropy = ["x"]))), [
    'groups[0].responses[2].token_entropy[0]: expected a finite number, found the string "x"',
  ]);
  assert.deepEqual(problems(broken(0, 1, (r) => (r.probes = { belief: [0.1, 0.2] }))), [
    "groups[0].responses[1].probes.belief: has 2 values, must have K+1 = 3 (one before the first step and one after each of the 2 steps)",
  ]);
  assert.deepEqual(problems(broken(0, 1, (r) => (r.step_labels = ["essential"]))), [
    "groups[0].responses[1].step_labels: has 1 labels, must have one per step (2)",
  ]);
  assert.deepEqual(problems(broken(0, 0, (r) => (r.tokens = [1]))), [
    "groups[0].responses[0].tokens: has 1 ids, must have one per token (token_logp has 2)",
  ]);
});

test("missing and mistyped fields, all reported at once", () => {
  const ps = problems(
    broken(0, 2, (r) => {
      delete r.outcome;
      r.truncated = "yes";
      delete r.token_logp;
    }),
  );
  assert.deepEqual(ps, [
    "groups[0].responses[2].token_logp: expected an array of numbers, found undefined",
    "groups[0].responses[2].outcome: expected a number (the verifier result, 0 or 1), found undefined",
    'groups[0].responses[2].truncated: expected true or false, found the string "yes"',
  ]);
  assert.throws(() => validateBatch([]), /batch: expected an object \{"groups": \[...\]\}, found an array of 0/);
  assert.throws(() => validateBatch({ groups: [] }), /groups: is empty/);
  assert.throws(() => validateBatch({ groups: [{ prompt: "", reference: "", responses: [] }] }), /groups\[0\]\.responses: is empty/);
  assert.throws(() => validateBatch({ groups: [{ prompt: 3, reference: "", responses: 5 }] }), /groups\[0\]\.prompt: expected a string, found 3\n  groups\[0\]\.responses: expected an array/);
});

test("a probe recorded on some responses but not others is refused", () => {
  const b = loadFixture("sspo.json") as unknown as { groups: { responses: Record<string, unknown>[] }[] };
  delete b.groups[0].responses[1].probes;
  assert.deepEqual(problems(b), [
    'groups[0].responses[1].probes: has no values for probe "belief" (other responses record it; every response must)',
  ]);
});
