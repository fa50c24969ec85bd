/** Analytics over run directories: tables, charts, rendering, reports, comparisons. */
export { RunDirError } from "./errors.js";
export {
  PROBE_PREFIX,
  ROLLOUT_COLUMNS,
  Run,
  STEP_COLUMNS,
  evalRows,
  finalEval,
  loadRun,
  metricsTable,
  probeNames,
  rolloutsTableOf,
  stepAdvantages,
  stepValues,
  stepsTable,
  trainRows,
} from "./tables.js";
export type { ColumnTable, LoadOptions, RunTables } from "./tables.js";
export { tableFooter, tableToHTML, tableToText } from "./format.js";
export type { TableFormatOptions } from "./format.js";
export { chartTitle } from "../display/bundles.js";
export { rocAuc, stepLabelAuc } from "./auc.js";
export type { StepLabelAucOptions } from "./auc.js";
export {
  CHART_FONT,
  LABEL_ORDER,
  VEGA_LITE_SCHEMA,
  accuracyTokensChart,
  entropyKlChart,
  STAGE_AXIS,
  rewardAdvantageChart,
  stepAdvantageChart,
  stepValueByLabelChart,
  stepValueChart,
} from "./charts.js";
export type { ChartOptions, ChartSpec } from "./charts.js";
export {
  COMPARE_SERIES,
  EVAL_SERIES,
  advantageByLabelChart,
  creditCurvesChart,
  evalCurvesChart,
  hasStepLabels,
  methodComparisonChart,
  stepValueByMethodChart,
} from "./compare-charts.js";
export type { MethodRun } from "./compare-charts.js";
export {
  DEJAVU_SANS,
  chartToPNG,
  chartToSVG,
  columnTableBundle,
  compileSpec,
  pngSize,
  renderChartBundle,
  svgSize,
  svgToPNG,
} from "./render.js";
export type { ChartBundle, PngOptions, TableBundle } from "./render.js";
export { renderReport, reportCharts, writeReport } from "./report.js";
export type { ReportOptions } from "./report.js";
export { COMPARE_COLUMNS, START_ROW, compareRuns, compareSummaries, formatDifference, formatMeanCi, summarizeRun, summarizeStart } from "./compare.js";
export type { CompareOptions, CompareResult, RunSummary } from "./compare.js";
export { meanCi95, pairedDifference, studentTQuantile } from "./stats.js";
export type { MeanCi, PairedDifference } from "./stats.js";
export { advantageScores, creditByIteration, creditFigures, creditMetrics, hasCreditLabels, probeDeltaScores, recordsOfStepsTable } from "./credit.js";
export { creditChart } from "./credit-chart.js";
export type { CreditFigures, CreditStepRecord, IterationCredit, ScoredStep } from "./credit.js";
export { rich, showChart, showTable, updateChart } from "./show.js";
