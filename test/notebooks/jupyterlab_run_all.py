"""Drives JupyterLab in Debian's Chromium (Playwright, no browser download): opens a notebook,
Run All Cells from the Run menu, waits until every code cell has run and the kernel is idle,
then Run All again in the same session. Prints one JSON object on stdout: for each pass, its
wall time and, per code cell, its execution count, outputs (type, stream name, error, text) and
the charts drawn in its output area (canvas, svg or img, with their rendered size). The
assertions are test/notebooks/jupyterlab.test.ts's.

usage: python jupyterlab_run_all.py BASE_URL TOKEN NOTEBOOK USER_DATA_DIR TIMEOUT_S
The server must run with --LabApp.expose_app_in_browser=True (window.jupyterapp: the cells'
models, to know when a Run All has finished) and notebook windowing off (every cell laid out,
so off-screen charts have a size).
"""
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/lib/chromium/chromium" if os.path.exists("/usr/lib/chromium/chromium") else "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

# The open notebook's code cells as JupyterLab's models hold them, and its kernel's status.
STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session?.kernel;
  const cells = panel.content.widgets.filter((c) => c.model.type === "code").map((cell) => {
    const m = cell.model;
    const outputs = m.outputs.toJSON().map((o) => ({
      output_type: o.output_type, name: o.name, ename: o.ename, evalue: o.evalue,
      text: [o.text ?? o.data?.["text/plain"] ?? ""].flat().join("").slice(0, 2000),
      mimes: Object.keys(o.data ?? {}),
    }));
    const area = cell.node.querySelector(".jp-OutputArea");
    // chart marks: vega's canvas/svg (class "marks"), images (the live view's PNGs); not the UI's icons
    const charts = [...(area ? area.querySelectorAll("canvas, svg.marks, img") : [])].map((el) => {
      const r = el.getBoundingClientRect();
      return { tag: el.tagName.toLowerCase(), width: r.width, height: r.height };
    });
    const stderrNodes = area ? area.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length : 0;
    return { source: m.sharedModel.getSource().slice(0, 120), executionCount: m.executionCount,
             executionState: m.executionState ?? null, outputs, charts, stderrNodes };
  });
  return { kernel: kernel ? kernel.status : null, cells };
}"""


def wait_until(page, predicate, timeout_s, what):
    deadline = time.time() + timeout_s
    stable = 0
    while True:
        state = page.evaluate(STATE)
        # twice in a row, a second apart: Run All's cells go busy and idle one by one
        stable = stable + 1 if predicate(state) else 0
        if stable >= 2:
            return state
        if time.time() > deadline:
            raise SystemExit(f"timed out after {timeout_s} s waiting for {what}: {json.dumps(state)[:3000]}")
        time.sleep(1)


def run_all(page):
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item:visible", has=page.locator(".lm-Menu-itemLabel", has_text="Run All Cells")).first.click()


def charts_drawn(state):
    """Every cell that shows a chart (sw.showChart, the run's live view) has one with a size."""
    wanted = [c for c in state["cells"] if "showChart" in c["source"] or c["source"].startswith("%%stepwise run")]
    return all(any(x["width"] > 0 and x["height"] > 0 for x in c["charts"]) for c in wanted)


def one_pass(page, after_count, timeout_s):
    t0 = time.time()
    run_all(page)

    def done(state):
        counts = [c["executionCount"] for c in state["cells"]]
        return (state["kernel"] == "idle" and all(n is not None and n > after_count for n in counts)
                and all(c["executionState"] in (None, "idle") for c in state["cells"]))

    state = wait_until(page, done, timeout_s, "Run All to finish")
    seconds = time.time() - t0
    # vega draws asynchronously after its output arrives
    try:
        state = wait_until(page, lambda s: done(s) and charts_drawn(s), 60, "the charts to be drawn")
    except SystemExit:
        state = page.evaluate(STATE)  # the test reports which chart is missing
    return {"seconds": round(seconds, 1), **state}


def main():
    base, token, notebook, user_data, timeout_s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(user_data, executable_path=CHROMIUM, headless=True, args=FLAGS,
                                                   viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.goto(f"{base}/lab/tree/{notebook}?token={token}")
            page.wait_for_function(
                "() => { const p = window.jupyterapp?.shell.currentWidget;"
                " return !!p && !!p.sessionContext && p.content.widgets.length > 0 && p.sessionContext.session?.kernel?.status === 'idle'; }",
                timeout=timeout_s * 1000)
            first = one_pass(page, 0, timeout_s)
            last = max(c["executionCount"] or 0 for c in first["cells"])
            second = one_pass(page, last, timeout_s)
            print(json.dumps({"passes": [first, second]}))
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
