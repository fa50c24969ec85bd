import { test } from "node:test";
import assert from "node:assert/strict";
import { extractFinalAnswer } from "../../src/task/answers.js";
import { answersEqual, gradeAnswer } from "../../src/task/grade.js";

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

test("grading: verdicts by hand, including what is not decided", () => {
  const cases: [string, string, string][] = [
    ["1,000", "1000", "equal"],
    ["1000.0", "1000", "equal"],
    ["\\$1,234,567.50", "1234567.5", "equal"],
    ["18 dollars", "18", "equal"],
    ["50\\%", "50", "equal"],
    ["50\\%", "0.5", "equal"],
    ["12.5\\%", "12.5", "different"],
    ["90^\\circ", "90", "equal"],
    ["-\\dfrac{1}{2}", "-0.5", "equal"],
    ["\\frac12", "0.5", "equal"],
    ["2\\frac{1}{2}", "2.5", "equal"],
    ["1.5\\times10^{3}", "1500", "equal"],
    ["\\frac{1}{3}", "0.333333", "equal"],
    ["\\frac{1}{3}", "0.33", "different"],
    ["12", "12.0000001", "different"],
    ["x = 5", "5", "equal"],
    ["x = 5", "y = 5", "different"],
    ["\\text{5}", "5", "equal"],
    ["\\{1, 2\\}", "\\{2, 1\\}", "equal"],
    ["(1, 2, 3)", "(1, 3, 2)", "different"],
    ["[1, 2)", "[1, 2]", "different"],
    ["\\text{Yes}", "yes", "equal"],
    ["5cm", "5", "undecided"],
    ["x+1", "1+x", "undecided"],
    ["1/0", "0", "undecided"],
    ["", "0", "undecided"],
  ];
  for (const [gold, pred, want] of cases) assert.equal(gradeAnswer(gold, pred), want, `${gold} vs ${pred}`);
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
