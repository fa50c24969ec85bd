import { test } from "node:test";
import assert from "node:assert/strict";
import { closest, editDistance, formatDiagnostic, type Diagnostic } from "../../dsl/diagnostics.js";

const d: Diagnostic = { file: "spec.sw", line: 3, column: 18, endLine: 3, endColumn: 26, severity: "error", message: "unknown name `logratoi`" };

test("formatDiagnostic: FILE:LINE:COL: message, then the hint", () => {
  assert.equal(formatDiagnostic(d), "spec.sw:3:18: unknown name `logratoi`");
  assert.equal(formatDiagnostic({ ...d, hint: "did you mean `logratio`?" }), "spec.sw:3:18: unknown name `logratoi`\n  hint: did you mean `logratio`?");
  assert.equal(formatDiagnostic({ ...d, severity: "warning" }), "spec.sw:3:18: warning: unknown name `logratoi`");
});

test("edit distance counts a transposition as one edit", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("beat", "beta"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(closest("logratoi", ["logp", "logratio", "logp_ref"]), "logratio");
  assert.equal(closest("xyz", ["logp", "entropy"]), undefined);
});
