/**
 * A generated corpus of (gold, prediction) answer pairs across the forms the grader reads
 * (src/task/grade.ts), equivalent and not, deterministic (one seeded generator): what the grader is
 * checked against math-verify on (test/task/grader-agreement.test.ts; figures in docs/grading.md).
 * Each pair names its form class, so a disagreement is reported by class.
 */
import { Rng } from "../../src/random.js";

export interface CorpusPair {
  cls: string;
  gold: string;
  pred: string;
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));

/** a decimal with `places` digits after the point, never ending in 0 */
function decimalText(rng: Rng, whole: number, places: number): string {
  let frac = "";
  for (let i = 0; i < places; i++) frac += String(i === places - 1 ? rng.int(1, 9) : rng.int(0, 9));
  return `${whole}.${frac}`;
}
const withCommas = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

export function graderCorpus(seed = 20251207): CorpusPair[] {
  const rng = new Rng(seed);
  const out: CorpusPair[] = [];
  const add = (cls: string, gold: string, pred: string) => out.push({ cls, gold, pred });
  const times = (n: number, f: () => void) => {
    for (let i = 0; i < n; i++) f();
  };
  const int = (lo: number, hi: number) => rng.int(lo, hi);

  times(40, () => {
    const n = rng.pick([int(0, 9), int(10, 999), int(1000, 99999)]) * (rng.chance(0.2) ? -1 : 1);
    add("integer", String(n), String(n));
    add("integer", String(n), `${n}.0`);
    add("integer", String(n), String(n + rng.pick([1, -1, 10])));
    add("integer", String(n), String(n * 10 + int(1, 9)));
  });

  times(40, () => {
    const places = int(1, 4);
    const d = decimalText(rng, int(0, 500), places);
    add("decimal", d, d);
    add("decimal", d, `${d}0`);
    add("decimal", d, `${d}0000001`); // equal at 6 decimals
    add("decimal", d, d.slice(0, -1) + String((Number(d.slice(-1)) % 9) + 1)); // last digit changed
    add("decimal", d, `${d}00003`); // differs at the 5th or 6th decimal, unless places is 1
  });
  times(15, () => {
    const [a, b] = rng.pick([[1, 3], [2, 3], [1, 6], [5, 6], [1, 7], [4, 9], [1, 11]] as const);
    const v = a / b;
    add("decimal", `\\frac{${a}}{${b}}`, v.toFixed(6));
    add("decimal", `\\frac{${a}}{${b}}`, v.toFixed(7));
    add("decimal", `\\frac{${a}}{${b}}`, v.toFixed(2));
    add("decimal", v.toFixed(6), `\\frac{${a}}{${b}}`);
  });
  times(15, () => {
    const n = int(1, 99);
    add("decimal", String(n), `${n}.0000001`); // an integer must match a decimal exactly
    add("decimal", `${n}.5`, `${n}.50`);
    add("decimal", `.${n}`, `0.${n}`);
  });

  times(40, () => {
    const n = rng.pick([int(1000, 9999), int(10000, 999999), int(1000000, 99999999)]);
    add("thousands", withCommas(n), String(n));
    add("thousands", String(n), withCommas(n));
    add("thousands", withCommas(n), withCommas(n + rng.pick([1, 1000, -10])));
    const d = `${n}.${int(1, 9)}`;
    add("thousands", withCommas(n) + d.slice(String(n).length), d);
  });

  times(35, () => {
    const p = int(1, 99);
    add("percent", `${p}\\%`, String(p));
    add("percent", String(p), `${p}\\%`);
    add("percent", `${p}\\%`, (p / 100).toString());
    add("percent", `${p}%`, `${p}\\%`);
    add("percent", `${p}\\%`, String(p + 1));
    add("percent", `${p} percent`, String(p));
    const q = `${int(1, 99)}.${int(1, 9)}`;
    add("percent", `${q}\\%`, String(Number((Number(q) / 100).toFixed(4))));
    add("percent", `${q}\\%`, q); // a percent of a decimal is its value only
  });

  times(25, () => {
    const n = int(1, 5000);
    add("currency", `\\$${n}`, String(n));
    add("currency", String(n), `\\$${n}.00`);
    add("currency", `\\$${withCommas(n)}`, String(n));
    add("currency", `\\$${n}`, String(n + 1));
    add("currency", `${n} \\text{ dollars}`, `\\$${n}`);
  });
  times(5, () => {
    const n = int(1, 500);
    add("currency-euro", `€${n}`, String(n));
    add("currency-euro", `£${n}`, String(n + 1));
  });

  times(30, () => {
    const n = int(1, 999);
    const [a, b] = [int(1, 9), rng.pick([2, 4, 5, 8])];
    add("negative", `-${n}`, `-${n}.0`);
    add("negative", `-${n}`, String(n));
    add("negative", `-\\frac{${a}}{${b}}`, String(-a / b));
    add("negative", `\\frac{-${a}}{${b}}`, `-\\frac{${a}}{${b}}`);
  });

  times(25, () => {
    const m = `${int(1, 9)}.${int(1, 9)}`;
    const k = int(1, 6);
    const value = (Number(m) * 10 ** k).toFixed(0);
    add("scientific", `${m}\\times10^{${k}}`, value);
    add("scientific", value, `${m} \\times 10^{${k}}`);
    add("scientific", `${m}\\cdot10^{${k}}`, value);
    add("scientific", `${m}\\times10^{${k}}`, `${m}\\times10^{${k + 1}}`);
    const j = int(1, 4);
    add("scientific", `${m}\\times10^{-${j}}`, (Number(m) / 10 ** j).toFixed(j + 1));
  });
  times(10, () => {
    const k = int(1, 6);
    add("scientific", `10^{${k}}`, String(10 ** k));
    add("scientific", `${int(2, 9)}\\times10^{${k}}`, String(10 ** k));
  });
  times(10, () => {
    const m = `${int(1, 9)}.${int(1, 9)}`;
    const k = int(2, 5);
    add("scientific-e", `${m}e${k}`, (Number(m) * 10 ** k).toFixed(0));
    add("scientific-e", `${m}e${k}`, `${m}e${k}`);
  });

  times(35, () => {
    const b = int(2, 12);
    const a = int(1, 3 * b);
    const g = gcd(a, b);
    const [ra, rb] = [a / g, b / g];
    const cmd = rng.pick(["\\frac", "\\dfrac", "\\tfrac"]);
    add("fraction", `${cmd}{${a}}{${b}}`, `\\frac{${ra}}{${rb}}`);
    add("fraction", `\\frac{${a}}{${b}}`, `${ra}/${rb}`);
    add("fraction", `${a}/${b}`, `${cmd}{${a * 2}}{${b * 2}}`);
    add("fraction", `\\frac{${a}}{${b}}`, `\\frac{${b}}{${a}}`);
    add("fraction", `\\frac{${a}}{${b}}`, `\\frac{${a + 1}}{${b}}`);
    if (/^\d+(\.\d{1,6})?$/.test(String(a / b))) add("fraction", `\\frac{${a}}{${b}}`, String(a / b));
    else add("fraction", `\\frac{${a}}{${b}}`, (a / b).toFixed(3));
  });
  times(10, () => {
    const [a, b] = [int(1, 9), int(1, 9)];
    add("fraction", `\\frac${a}${b}`, `\\frac{${a}}{${b}}`);
  });

  times(25, () => {
    const b = rng.pick([2, 3, 4, 5, 8]);
    const a = int(1, b - 1);
    const w = int(1, 9);
    add("mixed", `${w}\\frac{${a}}{${b}}`, `\\frac{${w * b + a}}{${b}}`);
    add("mixed", `\\frac{${w * b + a}}{${b}}`, `${w} \\frac{${a}}{${b}}`);
    add("mixed", `${w}\\frac{${a}}{${b}}`, String(w + a / b).slice(0, 8));
    add("mixed", `${w}\\frac{${a}}{${b}}`, `\\frac{${w * a}}{${b}}`);
  });
  times(10, () => {
    const [w, a, b] = [int(1, 9), 1, rng.pick([2, 4])];
    add("mixed-slash", `${w} ${a}/${b}`, String(w + a / b));
  });

  const someValue = () => rng.pick([String(int(-50, 500)), `\\frac{${int(1, 9)}}{${int(2, 9)}}`, decimalText(rng, int(0, 50), 2), `(${int(0, 4)}, ${int(5, 9)})`]);
  const wrappers = [(x: string) => `$${x}$`, (x: string) => `\\(${x}\\)`, (x: string) => `\\boxed{${x}}`, (x: string) => `$\\boxed{${x}}$`, (x: string) => `\\[${x}\\]`];
  times(40, () => {
    const x = someValue();
    const y = rng.chance(0.5) ? x : someValue();
    add("wrapper", x, rng.pick(wrappers)(y));
    add("wrapper", rng.pick(wrappers)(x), y);
  });
  times(15, () => {
    const n = int(0, 999);
    add("wrapper", String(n), rng.pick([`\\text{${n}}`, `\\mathrm{${n}}`]));
    const [a, b] = [int(0, 4), int(5, 9)];
    add("wrapper", `\\left(${a}, ${b}\\right)`, `(${a},${b})`);
    add("wrapper", `\\left[${a}, ${b}\\right)`, `[${a}, ${b}]`);
  });

  const units = ["cm", "km", "kg", "m", "hours", "minutes", "inches", "feet", "days", "cents"];
  times(30, () => {
    const n = String(rng.pick([int(1, 999), int(1, 99) + 0.5]));
    const u = rng.pick(units);
    add("unit", `${n} ${u}`, n);
    add("unit", n, `${n} \\text{ ${u}}`);
    add("unit", `${n}\\text{${u}}`, `${n} \\mathrm{${u}}`);
    add("unit", `${n} \\text{ ${u}}`, String(Number(n) + 1));
    add("unit", `${n}^\\circ`, n);
  });
  times(10, () => {
    const n = int(1, 99);
    add("unit-unlisted", `${n}`, `${n} ${rng.pick(["bananas", "dollars", "marbles", "pencils"])}`);
  });

  times(20, () => {
    const xs = Array.from({ length: int(2, 4) }, () => int(-9, 20));
    const perm = rng.shuffle([...xs]);
    const other = xs.map((x, i) => (i === xs.length - 1 ? x + 1 : x));
    const tuple = (v: number[]) => `(${v.join(", ")})`;
    const set = (v: number[]) => `\\{${v.join(", ")}\\}`;
    add("tuple", tuple(xs), tuple(xs));
    add("tuple", tuple(xs), tuple(perm));
    add("tuple", tuple(xs), tuple(other));
    add("set", set(xs), set(perm));
    add("set", set(xs), set(other));
    add("set", set(xs), xs.join(", "));
    add("set", set(xs), tuple(perm));
    add("set", tuple(xs), set(xs));
  });
  times(20, () => {
    const a = int(-9, 5);
    const b = a + int(1, 9);
    const br = () => [rng.pick(["(", "["]), rng.pick([")", "]"])] as const;
    const [l, r] = br();
    const [l2, r2] = br();
    add("interval", `${l}${a}, ${b}${r}`, `${l}${a},${b}${r}`);
    add("interval", `${l}${a}, ${b}${r}`, `${l2}${a}, ${b}${r2}`);
    add("interval", `${l}${a}, ${b}${r}`, `${l}${a}, ${b + 1}${r}`);
    add("interval", `(-\\infty, ${b}${r}`, `(-\\infty, ${b}${r2}`);
    add("interval", `[${a}, \\infty)`, `[${a}, \\infty)`);
    add("interval", `(${a}, ${b})`, `${a}, ${b}`);
    add("interval", `(\\frac{1}{2}, ${b})`, `(0.5, ${b})`);
  });

  const words = ["Monday", "yes", "no", "blue", "even", "odd", "north", "triangle", "Alice", "none"];
  times(20, () => {
    const w = rng.pick(words);
    const other = rng.pick(words.filter((x) => x !== w));
    add("text", `\\text{${w}}`, `\\text{${w.toLowerCase()}}`);
    add("text", `\\text{${w}}`, w);
    add("text", `\\text{${w}}`, `\\textbf{${w}}`);
    add("text", `\\text{${w}}`, `\\text{${other}}`);
    add("text", `\\text{${w.toUpperCase()}}`, `\\text{ ${w} }`);
  });
  add("text", "\\text{New York}", "\\text{new york}");
  add("text", "\\text{(A)}", "\\text{(A)}");
  add("text", "\\text{(B)}", "\\text{(C)}");

  times(20, () => {
    const n = int(-20, 50);
    const v = rng.pick(["x", "y", "n", "k"]);
    add("equation", `${v}=${n}`, String(n));
    add("equation", String(n), `${v} = ${n}`);
    add("equation", `${v}=${n}`, `${v === "x" ? "y" : "x"}=${n}`);
    add("equation", `${v}=${n}`, `${v}=${n + 1}`);
  });

  const symbolic: [string, string][] = [
    ["x+1", "1+x"],
    ["x+1", "x+1"],
    ["x^2-1", "(x-1)(x+1)"],
    ["2x", "2x"],
    ["2x", "3x"],
    ["\\sqrt{2}", "\\sqrt{2}"],
    ["\\sqrt{2}", "\\sqrt{3}"],
    ["\\sqrt{2}", "1.414214"],
    ["\\pi", "3.14"],
    ["2\\pi", "2\\pi"],
    ["\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}"],
    ["a+b", "b+a"],
    ["3+4", "7"],
    ["\\sqrt{4}", "2"],
    ["x^2", "x^{2}"],
  ];
  for (const [g, p] of symbolic) add("symbolic", g, p);
  return out;
}
