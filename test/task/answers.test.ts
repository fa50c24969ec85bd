import { test } from "node:test";
import assert from "node:assert/strict";
import { extractFinalAnswer, answersEqual, parseNumeric } from "../../src/task/answers.js";

test("extraction: a table of hand-written cases", () => {
  const cases: [string, string | null][] = [
    ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72"],
    ["#### 1,000", "1,000"],
    ["first #### 3\nthen #### 4", "4"],
    ["So the result is $\\boxed{42}$.", "42"],
    ["$x = \\boxed{\\frac{1}{2}}$", "\\frac{1}{2}"],
    ["\\boxed{1} no wait \\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"],
    ["\\boxed{unbalanced", null],
    ["The answer is 42.", "42"],
    ["so the final answer is: 3.5. Done.", "3.5"],
    ["Thus the Answer is $18 dollars", "$18 dollars"],
    ["The answer is 7\nThe answer is 8", "8"],
    ["the answer is \\boxed{9}, and #### 10", "10"],
    ["no answer here, 42", null],
    ["", null],
  ];
  for (const [text, expected] of cases) assert.equal(extractFinalAnswer(text), expected, JSON.stringify(text));
});

test("numeric parsing: a table of hand-written cases", () => {
  const cases: [string, number | null][] = [
    ["1,000", 1000],
    ["1000.0", 1000],
    ["$1,234,567.50", 1234567.5],
    ["-3", -3],
    ["18 dollars", 18],
    ["50%", 50],
    ["90^\\circ", 90],
    ["\\frac{3}{4}", 0.75],
    ["-\\dfrac{1}{2}", -0.5],
    ["\\frac12", 0.5],
    ["3/4", 0.75],
    ["x = 5", 5],
    ["\\text{5}", 5],
    [".5", 0.5],
    ["1,2", null],
    ["5cm", null],
    ["abc", null],
    ["1/0", null],
  ];
  for (const [text, expected] of cases) assert.equal(parseNumeric(text), expected, JSON.stringify(text));
});

test("comparison: a table of hand-written cases", () => {
  const equal: [string, string][] = [
    ["1,000", "1000"],
    ["1000.0", "1000"],
    ["1,000", "1000.0"],
    ["$1000", "1000"],
    ["1000 dollars", "1000"],
    ["0.5", "\\frac{1}{2}"],
    ["1/2", "\\dfrac{1}{2}"],
    ["72.", "72"],
    ["\\sqrt{2}", "\\sqrt{ 2 }"],
    ["\\left(1, 2\\right)", "(1,2)"],
    ["\\text{Monday}", "Monday"],
  ];
  const different: [string, string][] = [
    ["1,000", "100"],
    ["1000.1", "1000"],
    ["-5", "5"],
    ["\\sqrt{2}", "\\sqrt{3}"],
    ["1,2", "12"],
    ["", "0"],
  ];
  for (const [a, b] of equal) assert.ok(answersEqual(a, b) && answersEqual(b, a), `${a} == ${b}`);
  for (const [a, b] of different) assert.ok(!answersEqual(a, b) && !answersEqual(b, a), `${a} != ${b}`);
});
