/**
 * MIME bundles: what a rich value sends to a notebook. Keys are MIME types; values are strings,
 * JSON objects (for `application/*+json`), or bytes (sent base64, as Jupyter wants for images).
 *
 * Conventions:
 *  - charts: `application/vnd.vegalite.v5+json` (a v5 `$schema`; JupyterLab and VS Code have no v6
 *    renderer) + `image/png` (the static fallback) + `text/plain`; no `image/svg+xml` (nbconvert's
 *    HTML ranks it above PNG and Debian's nbconvert sanitises it to nothing: a blank chart); never
 *    `text/html`, which frontends rank above vega-lite;
 *  - tables: `text/html` (with an "N rows × M columns" footer) + `text/plain`.
 */
export type MimeBundle = Record<string, string | Uint8Array | object>;

/** The kernel the code runs in: the Stepwise kernel, stock tslab, or none (CLI, tests). */
export type KernelKind = "stepwise" | "tslab" | "none";

/** Where display messages go; the Stepwise kernel installs one on globalThis. */
export interface DisplaySink {
  kind: KernelKind;
  /** msgType: "display_data" | "update_display_data" | "clear_output" */
  send(msgType: string, content: Record<string, unknown>): void;
}

export interface DisplayOptions {
  /** a display id to update later; `true` makes a fresh one */
  id?: string | true;
  metadata?: Record<string, unknown>;
}
