/** The formula engine: the Formula IR (dsl/plan.ts) as TF.js tensor programs. */
export { computeAdvantages, evaluateFormula, fracZeroStd, termRms, type AdvantagePlan, type Advantages } from "./evaluate.js";
export { FormulaError, type FormulaContext, type Leveled, type Granularity } from "./types.js";
export { STD_EPS } from "./group.js";
