/**
 * The Stepwise library, as `import * as sw from "stepwise"` gives it (in TypeScript, in a notebook
 * cell, in stock tslab).
 *
 * @example
 *   import * as sw from "stepwise";
 *   const { plan, diagnostics } = sw.compile(fs.readFileSync("examples/quickstart.sw", "utf8"));
 *   const run = await sw.run(plan!, { onEvent: (e) => console.log(e.type) });
 *   const tables = await sw.loadRun(run.dir);
 */
export { compile, check, format, formatDiagnostic, parse } from "../dsl/index.js";
export type { CompileOptions, CompileResult, Diagnostic } from "../dsl/index.js";
export type * from "../dsl/plan.js";

export { runPlan, summarise } from "./run/runner.js";
// `run` shows a live view of the run in a notebook (src/display/live-run.ts) and is `runPlan` elsewhere
export { LiveRunView, liveRun, liveRun as run } from "./display/live-run.js";
export type { LiveRunOptions, LiveRunResult, LiveRunViewOptions, RunPlanFn } from "./display/live-run.js";
export { RunError } from "./run/rerun.js";
export type { RerunOptions } from "./run/rerun.js";
export type { RunOptions, RunResult } from "./run/runner.js";
export { RunStore } from "./run/store.js";
export type { MetricsRow, RunEvent, RunInfo, StepRecord } from "./run/types.js";
export { METRIC, creditMetricName } from "./run/types.js";

export { initBackend } from "./backend/index.js";
export { Transformer, hfLayout } from "./model/transformer.js";
export { gptConfig, llamaConfig } from "./model/config.js";
export { sample } from "./model/sample.js";
export { loadCheckpoint, loadHfModel, saveCheckpoint } from "./model/checkpoint.js";
export type { ModelConfig, SampleOptions, SampleResult } from "./model/types.js";

export * from "./tokenizer/index.js";
export { createTask, createArithmeticTask } from "./task/index.js";
export type { Problem, StepLabel, Task } from "./task/types.js";

export type { RolloutBatch, RolloutGroup, RolloutResponse } from "./rl/batch.js";
export { validateBatch } from "./rl/batch-validate.js";
export { toBatchTensors } from "./rl/batch-tensors.js";
export { computeAdvantages, evaluateFormula } from "./rl/formula/index.js";
export { batchAdvantages } from "./rl/iteration.js";
export { segmentResponse } from "./rl/segment.js";

export * from "./analytics/index.js";
export {
  assembleChartBundle,
  chartTitle,
  clearOutput,
  display,
  escapeHtml,
  kernelKind,
  newDisplayId,
  rowsTableBundle,
  throttle,
  updateDisplay,
} from "./display/index.js";
export type { MimeBundle } from "./display/index.js";
