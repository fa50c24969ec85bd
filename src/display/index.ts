export type { DisplayOptions, DisplaySink, KernelKind, MimeBundle } from "./types.js";
export {
  alignColumns,
  assembleChartBundle,
  chartTitle,
  escapeHtml,
  rowsTableBundle,
  tableSize,
  toWire,
  VEGALITE_MIME,
  VEGALITE_V5_SCHEMA,
} from "./bundles.js";
export type { Cell } from "./bundles.js";
export { clearOutput, display, kernelKind, newDisplayId, updateDisplay } from "./display.js";
export { currentSink, registerSink, SINK_KEY } from "./sink.js";
export { CHART_INTERVAL_MS, PROGRESS_INTERVAL_MS, realClock, throttle } from "./throttle.js";
export type { Clock, Throttled } from "./throttle.js";
