"""Protocol tests of the Stepwise kernel with Jupyter's own client (jupyter_client) and test kit
(jupyter_kernel_test). Run by test/kernel/kernel.test.ts with /usr/bin/python3 -m pytest.

The kernelspec is installed into a temporary prefix (src/cli/kernel-install.ts --prefix) and
found through JUPYTER_PATH. Each class starts one kernel.
"""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
from queue import Empty

# An interrupt is answered at the next step boundary: prompt, not instant. The bound is loose
# because a step on a loaded 2-core machine can take over a second; a run that ignored the
# interrupt would take minutes.
INTERRUPT_LATENCY_S = 5.0

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(REPO, "test", "kernel", "fixtures")
DISPLAY = json.dumps(os.path.join(REPO, "src", "display", "index.ts"))
FAKE_RUNNER = json.dumps(os.path.join(FIXTURES, "fake-runner.ts"))
INTERRUPT = json.dumps(os.path.join(REPO, "src", "run", "interrupt.ts"))

_prefix = tempfile.mkdtemp(prefix="stepwise-kernelspec-")
subprocess.run(
    ["node", "--import", "tsx", "src/cli/kernel-install.ts", "--prefix", _prefix],
    cwd=REPO, check=True, stdout=subprocess.DEVNULL,
)
os.environ["JUPYTER_PATH"] = os.path.join(_prefix, "share", "jupyter")
# stock tslab 1.0.22 (its own protocol layer), with tsx so that cells can require our .ts sources
_stock = os.path.join(_prefix, "share", "jupyter", "kernels", "tslab-stock")
os.makedirs(_stock, exist_ok=True)
with open(os.path.join(_prefix, "share", "jupyter", "kernels", "stepwise", "kernel.json")) as f:
    _spec = json.load(f)
_argv = _spec["argv"]
with open(os.path.join(_stock, "kernel.json"), "w") as f:
    json.dump({
        "argv": _argv[:3] + [os.path.join(REPO, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", "{connection_file}"],
        "display_name": "tslab (stock)", "language": "typescript",
    }, f)
# the Stepwise kernel with stand-ins for the compiler and the runner (test/kernel/fixtures/fake-main.ts)
_fakes = os.path.join(_prefix, "share", "jupyter", "kernels", "stepwise-fakes")
os.makedirs(_fakes, exist_ok=True)
with open(os.path.join(_fakes, "kernel.json"), "w") as f:
    json.dump({**_spec, "argv": _argv[:3] + [os.path.join(FIXTURES, "fake-main.ts"), "{connection_file}"],
               "display_name": "Stepwise (stand-in compiler and runner)"}, f)


def run_cell(kc, code, timeout=15):
    """Executes `code`; returns (reply, [iopub messages of this request, status excluded])."""
    msg_id = kc.execute(code)
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status":
            if msg["content"]["execution_state"] == "idle":
                break
            continue
        outputs.append(msg)
    return reply, outputs


def of_type(outputs, msg_type):
    return [m for m in outputs if m["msg_type"] == msg_type]


def start(env=None, kernel_name="stepwise", cwd=REPO):
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        return start_new_kernel(kernel_name=kernel_name, startup_timeout=60, cwd=cwd)
    finally:
        os.environ.clear()
        os.environ.update(old)


class StepwiseKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "stepwise"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("to stderr")'
    completion_samples = [{"text": "Math.ma", "matches": {"max"}}]
    complete_code_samples = ["1 + 1", "const a = 3;", "function f() { return 1; }"]
    incomplete_code_samples = ["function f() {", "if (true) {\n  let x = 1;"]
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "const s: string = 'a' + 'b'; s", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]
    code_display_data = [
        {"code": f'const d = require({DISPLAY}); d.display({{"text/html": "<b>hi</b>", "text/plain": "hi"}})', "mime": "text/html"},
        # stock tslab's display API works here too
        {"code": 'import * as tslab from "tslab"; tslab.display.html("<i>tslab</i>")', "mime": "text/html"},
    ]
    code_inspect_sample = "Math.max"
    code_clear_output = f'require({DISPLAY}).clearOutput()'

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()

    def test_error_content(self):
        reply, out = run_cell(self.kc, 'function f(): never { throw new RangeError("out of range") }\nf()')
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "RangeError")
        self.assertEqual(reply["content"]["evalue"], "out of range")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "RangeError")
        self.assertEqual(err["content"]["traceback"][0], "RangeError: out of range")
        # the kernel's own frames (vm, tslab, protocol layer) are cut from the traceback
        self.assertFalse(any("node:vm" in l or "kernel/" in l for l in err["content"]["traceback"]))

    def test_type_error_points_at_cell(self):
        reply, out = run_cell(self.kc, 'const ok = 1;\nlet n: number = "text";')
        self.assertEqual(reply["content"]["status"], "error")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "TypeScriptError")
        self.assertEqual(err["content"]["traceback"][0], "cell:2:5: Type 'string' is not assignable to type 'number'.")

    def test_rejected_await_is_an_error(self):
        reply, out = run_cell(self.kc, 'await Promise.reject(new TypeError("async failure"))')
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(of_type(out, "error")[0]["content"]["evalue"], "async failure")

    def test_no_abort_after_error(self):
        # tslab aborted cells arriving within 200 ms of an error; each must run
        ids = [self.kc.execute('throw new Error("first")'), self.kc.execute("globalThis.__second = 2; 2")]
        replies = {}
        while len(replies) < 2:
            r = self.kc.get_shell_msg(timeout=15)
            if r["parent_header"].get("msg_id") in ids:
                replies[r["parent_header"]["msg_id"]] = r["content"]["status"]
        self.assertEqual([replies[i] for i in ids], ["error", "ok"])
        reply, out = run_cell(self.kc, "(globalThis as any).__second")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "2")

    def test_execute_input_and_counts(self):
        r1, out1 = run_cell(self.kc, "1")
        r2, out2 = run_cell(self.kc, "2")
        self.assertEqual(r2["content"]["execution_count"], r1["content"]["execution_count"] + 1)
        [inp] = of_type(out2, "execute_input")
        self.assertEqual(inp["content"], {"code": "2", "execution_count": r2["content"]["execution_count"]})
        self.assertEqual(of_type(out2, "execute_result")[0]["content"]["execution_count"], r2["content"]["execution_count"])

    def test_variables_persist(self):
        run_cell(self.kc, "let counter = 10;")
        run_cell(self.kc, "counter += 5;")
        _, out = run_cell(self.kc, "counter")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "15")

    def test_no_result_for_statements_and_undefined(self):
        _, out = run_cell(self.kc, "const q = 1;")
        self.assertEqual(of_type(out, "execute_result"), [])
        _, out = run_cell(self.kc, "undefined")
        self.assertEqual(of_type(out, "execute_result"), [])

    def test_rich_value(self):
        code = 'const v = { toMimeBundle: () => ({ "text/html": "<p>rich</p>", "text/plain": "rich" }) }; v'
        _, out = run_cell(self.kc, code)
        data = of_type(out, "execute_result")[0]["content"]["data"]
        self.assertEqual(data, {"text/html": "<p>rich</p>", "text/plain": "rich"})

    def test_comm_info(self):
        msg_id = self.kc.comm_info()
        reply = self.get_non_kernel_info_reply(timeout=10)
        jupyter_kernel_test.validate_message(reply, "comm_info_reply", msg_id)
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})

    def test_kernel_info_status(self):
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=10)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(reply["content"]["implementation"], "stepwise")

    def test_live_display(self):
        code = (
            f"const dd = require({DISPLAY});\n"
            'const id = dd.display({"text/plain": "step 0"}, { id: true });\n'
            'for (let i = 1; i <= 3; i++) dd.updateDisplay(id, {"text/plain": `step ${i}`});'
        )
        reply, out = run_cell(self.kc, code)
        self.assertEqual(reply["content"]["status"], "ok")
        shown = of_type(out, "display_data")
        updates = of_type(out, "update_display_data")
        self.assertEqual(len(shown), 1)
        self.assertEqual([u["content"]["data"]["text/plain"] for u in updates], ["step 1", "step 2", "step 3"])
        display_id = shown[0]["content"]["transient"]["display_id"]
        self.assertTrue(display_id)
        self.assertTrue(all(u["content"]["transient"]["display_id"] == display_id for u in updates))

    def test_png_bundle_is_base64(self):
        code = f'require({DISPLAY}).display({{"image/png": new Uint8Array([137, 80, 78, 71]), "text/plain": "png"}})'
        _, out = run_cell(self.kc, code)
        self.assertEqual(of_type(out, "display_data")[0]["content"]["data"]["image/png"], "iVBORw==")

    def test_interrupt_async_cell(self):
        # a cell awaiting a long promise stops within a second of SIGINT; library code sees the abort
        code = (
            f"const intr = require({INTERRUPT});\n"
            "const sig = intr.currentAbortSignal();\n"
            "(globalThis as any).__sawAbort = false;\n"
            "sig.addEventListener('abort', () => { (globalThis as any).__sawAbort = true; });\n"
            "await new Promise((r) => setTimeout(r, 30000));"
        )
        msg_id = self.kc.execute(code)
        time.sleep(1.0)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=5)
        elapsed = time.time() - t0
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertLess(elapsed, INTERRUPT_LATENCY_S)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        self.flush_channels()
        _, out = run_cell(self.kc, "(globalThis as any).__sawAbort")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "true")
        # outside a cell's run, the signal is a fresh one again
        _, out = run_cell(self.kc, f"require({INTERRUPT}).currentAbortSignal().aborted")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "false")

    def test_interrupt_blocking_cell(self):
        msg_id = self.kc.execute("const t0 = Date.now(); while (Date.now() - t0 < 30000) {}")
        time.sleep(1.0)
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=5)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        self.flush_channels()
        reply, _ = run_cell(self.kc, "1 + 1")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_interrupt_request_message(self):
        # interrupt over the control channel (message mode) interrupts as SIGINT does
        msg_id = self.kc.execute("await new Promise((r) => setTimeout(r, 30000));")
        time.sleep(0.5)
        self.kc.control_channel.send(self.kc.session.msg("interrupt_request", {}))
        reply = self.kc.get_shell_msg(timeout=5)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        ctl = self.kc.get_control_msg(timeout=5)
        self.assertEqual((ctl["msg_type"], ctl["content"]["status"]), ("interrupt_reply", "ok"))
        self.flush_channels()

    def test_survives_unhandled_rejection(self):
        reply, _ = run_cell(self.kc, 'Promise.reject(new Error("nobody listens")); 1')
        self.assertEqual(reply["content"]["status"], "ok")
        time.sleep(0.2)
        reply, out = run_cell(self.kc, "3")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "3")

    def test_import_stepwise(self):
        reply, out = run_cell(self.kc, 'import * as sw from "stepwise";\ntypeof sw', timeout=120)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "'object'")


SPEC_OK = "%%stepwise\nexperiment demo\niterations 3\n"


class DslCellTests(unittest.TestCase):
    """%%stepwise cells, with stand-ins for the compiler and the runner (test/kernel/fixtures):
    the kernel's plumbing, whatever the language's state."""

    @classmethod
    def setUpClass(cls):
        cls.run_dir = tempfile.mkdtemp(prefix="stepwise-kernel-run-")
        # in a folder of its own: a run cell reads runs/<name> there before running (src/run/rerun.ts)
        cls.km, cls.kc = start({"STEPWISE_TEST_RUN_DIR": cls.run_dir}, kernel_name="stepwise-fakes", cwd=cls.run_dir)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def result(self, code):
        reply, out = run_cell(self.kc, code)
        self.assertEqual(reply["content"]["status"], "ok", out)
        return of_type(out, "execute_result")[0]["content"]["data"]["text/plain"]

    def test_summary_and_binding(self):
        reply, out = run_cell(self.kc, SPEC_OK)
        self.assertEqual(reply["content"]["status"], "ok", out)
        [shown] = of_type(out, "display_data")
        data = shown["content"]["data"]
        self.assertIn("<table", data["text/html"])
        self.assertIn('Stepwise plan "demo"', data["text/plain"])
        self.assertIn("advantage", data["text/plain"])
        self.assertIn("outcome - 0.5", data["text/plain"])
        self.assertEqual(self.result("plan.name"), "'demo'")
        self.assertEqual(self.result("plan.train[0].iterations"), "3")

    def test_named_binding(self):
        reply, _ = run_cell(self.kc, "%%stepwise other\nexperiment second\n")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(self.result("other.name"), "'second'")

    def test_error_with_cell_position(self):
        reply, out = run_cell(self.kc, "%%stepwise\nexperiment broken\n  bogus 1\n")
        self.assertEqual(reply["content"]["status"], "error")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "StepwiseError")
        self.assertEqual(err["content"]["evalue"], 'unknown declaration "bogus"')
        # line 1 is the %%stepwise line: the bad line is the cell's line 3, column 3
        self.assertEqual(err["content"]["traceback"][0], 'cell:3:3: unknown declaration "bogus"')
        self.assertEqual(err["content"]["traceback"][1], "  hint: use experiment or iterations")
        # the kernel is alive after
        self.assertEqual(self.result("1 + 1"), "2")

    def test_bad_magic(self):
        reply, out = run_cell(self.kc, "%%stepwise run two names\nexperiment x\n")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("usage: %%stepwise", of_type(out, "error")[0]["content"]["evalue"])

    def reply_to(self, msg_id):
        while True:  # skip replies to earlier requests (a kernel_info of the client's start)
            msg = self.kc.get_shell_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    def is_complete(self, code):
        return self.reply_to(self.kc.is_complete(code))

    def complete(self, code, cursor=None):
        return self.reply_to(self.kc.complete(code, len(code) if cursor is None else cursor))

    def inspect(self, code, cursor):
        return self.reply_to(self.kc.inspect(code, cursor))

    def test_is_complete_understands_the_cell_magic(self):
        # a lone magic line waits for its spec; an open block for its brace; the DSL is not TypeScript
        self.assertEqual(self.is_complete("%%stepwise"), {"status": "incomplete", "indent": ""})
        self.assertEqual(self.is_complete("%%stepwise run\n"), {"status": "incomplete", "indent": ""})
        self.assertEqual(self.is_complete("%%stepwise\ntrain {\n  rl {"), {"status": "incomplete", "indent": "    "})
        self.assertEqual(self.is_complete('%%stepwise\nexperiment "x"\ntrain { rl { iterations 2 } }\n')["status"], "complete")
        # a spec line that TypeScript would call incomplete is complete DSL
        self.assertEqual(self.is_complete("%%stepwise\nreward r = outcome +  # a comment {")["status"], "complete")

    def test_complete_dsl_methods_with_parameters(self):
        code = "%%stepwise\nuse sp"
        c = self.complete(code)
        self.assertEqual(c["status"], "ok")
        self.assertEqual(sorted(c["matches"]), ["sppd", "spro"])
        self.assertEqual((c["cursor_start"], c["cursor_end"]), (len(code) - 2, len(code)))
        sigs = {t["text"]: t["signature"] for t in c["metadata"]["_jupyter_types_experimental"]}
        self.assertEqual(sigs["spro"], "spro(beta = 0.05)")

    def test_complete_dsl_quantities_with_granularity(self):
        c = self.complete("%%stepwise\nreward r = ent")
        self.assertEqual(c["matches"], ["entropy"])
        [t] = c["metadata"]["_jupyter_types_experimental"]
        self.assertEqual(t["type"], "quantity")
        self.assertTrue(t["signature"].startswith("entropy: token"), t)

    def test_complete_dsl_block_settings_and_stages(self):
        self.assertEqual(self.complete("%%stepwise\ntrain {\n  rl { it")["matches"], ["iterations"])
        self.assertEqual(self.complete("%%stepwise\ntrain {\n  ")["matches"], ["sft", "rl", "dpo", "step_dpo"])
        self.assertIn("width", self.complete("%%stepwise\nmodel gpt { layers 4, ")["matches"])
        self.assertEqual(self.complete("%%stepwise\nobjective clipped { norm ")["matches"], ["response", "token", "constant"])
        # the cursor mid-cell: completes the word before it, not the cell's end
        code = "%%stepwise\nexp\nseed 1\n"
        c = self.complete(code, len("%%stepwise\nexp"))
        self.assertEqual(c["matches"], ["experiment"])

    def test_inspect_dsl(self):
        code = "%%stepwise\nuse spro\nreward r = outcome\n"
        r = self.inspect(code, code.index("spro") + 2)
        self.assertTrue(r["found"])
        text = r["data"]["text/plain"]
        self.assertTrue(text.startswith("spro(beta = 0.05)"), text)
        self.assertIn("SPRO (arXiv 2507.01551)", text)
        r = self.inspect(code, code.index("outcome") + 1)
        self.assertTrue(r["data"]["text/plain"].startswith("outcome: response-level quantity"), r)

    def test_run_live_display(self):
        reply, out = run_cell(self.kc, "%%stepwise run\nexperiment live\niterations 10\n")
        self.assertEqual(reply["content"]["status"], "ok", out)
        shown = of_type(out, "display_data")
        # the plan summary, then the run's live view
        self.assertEqual(len(shown), 2)
        live_id = shown[1]["content"]["transient"]["display_id"]
        updates = of_type(out, "update_display_data")
        self.assertGreaterEqual(len(updates), 1)
        self.assertTrue(all(u["content"]["transient"]["display_id"] == live_id for u in updates))
        last = updates[-1]["content"]["data"]["text/plain"]
        self.assertIn("10/10", last)
        self.assertIn("finished", last)
        self.assertEqual(self.result("run.status"), "'finished'")

    def test_interrupt_training_cell(self):
        msg_id = self.kc.execute("%%stepwise run long\nexperiment long\niterations 100000\n")
        time.sleep(1.5)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=10)
        self.assertLess(time.time() - t0, INTERRUPT_LATENCY_S)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        self.assertIn("checkpoint", reply["content"]["evalue"])
        ckpt = os.path.join(self.run_dir, "checkpoint.json")
        self.assertTrue(os.path.exists(ckpt))
        self.assertGreater(json.load(open(ckpt))["iteration"], 0)
        # the interrupted run is bound, and the kernel is alive
        self.assertEqual(self.result("longRun.status"), "'interrupted'")

    def test_ts_run_live_display(self):
        """`await sw.run(plan)` in a TypeScript cell shows the same live view as %%stepwise run."""
        reply, _ = run_cell(self.kc, "%%stepwise tsPlan\nexperiment from-ts\niterations 5\n")
        self.assertEqual(reply["content"]["status"], "ok")
        # the stand-in runner is passed as sw.run's `runner` option (its default is the real runner)
        code = f'import * as sw from "stepwise";\nconst {{ runPlan }} = require({FAKE_RUNNER});\nconst tsRun = await sw.run(tsPlan, {{ runner: runPlan }});\ntsRun.status'
        reply, out = run_cell(self.kc, code, timeout=120)
        self.assertEqual(reply["content"]["status"], "ok", out)
        [shown] = of_type(out, "display_data")
        live_id = shown["content"]["transient"]["display_id"]
        updates = of_type(out, "update_display_data")
        self.assertGreaterEqual(len(updates), 1)
        self.assertTrue(all(u["content"]["transient"]["display_id"] == live_id for u in updates))
        self.assertIn("from-ts · rl 5/5 · finished", updates[-1]["content"]["data"]["text/plain"])
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "'finished'")


@unittest.skipUnless(os.path.exists(os.path.join(REPO, "dsl", "index.ts")), "dsl/index.ts (the DSL compiler) does not exist yet")
class RealDslTests(unittest.TestCase):
    """%%stepwise cells with the real compiler."""

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def test_compile_and_bind(self):
        reply, out = run_cell(self.kc, '%%stepwise\nexperiment "kernel-test"\nseed 7\n', timeout=60)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertIn("kernel-test", of_type(out, "display_data")[0]["content"]["data"]["text/plain"])
        reply, out = run_cell(self.kc, "plan.seed")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "7")

    def test_error_position(self):
        reply, out = run_cell(self.kc, '%%stepwise\nexperiment "x"\nseed "seven"\n', timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "StepwiseError")
        self.assertTrue(err["content"]["traceback"][0].startswith("cell:3:"), err["content"]["traceback"])
        reply, _ = run_cell(self.kc, "1")
        self.assertEqual(reply["content"]["status"], "ok")


TINY_RUN = """%%stepwise run
experiment "interrupt-me"
seed 3
model gpt { layers 1, width 32, heads 2, context 64 }
tokenizer chars
task arithmetic { operands 2..2, values 1..9, operators "+-" }
steps split "\\n"
use grpo
train {
  sft { steps 40, lr 3e-3, batch 8 }
}
eval { prompts 4, max_tokens 24 }
"""


@unittest.skipUnless(os.path.exists(os.path.join(REPO, "dsl", "index.ts")), "dsl/index.ts (the DSL compiler) does not exist yet")
class RealRunnerTests(unittest.TestCase):
    """%%stepwise run with the real compiler and runner (src/run/runner.ts): a training cell
    interrupted stops within a second with its checkpoint, and the run resumes to the end."""

    @classmethod
    def setUpClass(cls):
        cls.cwd = tempfile.mkdtemp(prefix="stepwise-kernel-real-run-")
        cls.km, cls.kc = start(cwd=cls.cwd)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def test_node_types_outside_the_repository(self):
        """The kernel runs in a folder outside the repository: @types/node still type-checks cells."""
        reply, out = run_cell(self.kc, 'console.log(typeof process.pid)', timeout=60)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual("".join(m["content"]["text"] for m in of_type(out, "stream")), "number\n")

    def test_interrupt_then_resume(self):
        msg_id = self.kc.execute(TINY_RUN)
        # wait until the live view shows SFT under way
        deadline = time.time() + 120
        while True:
            self.assertLess(time.time(), deadline, "no SFT progress shown")
            msg = self.kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "update_display_data":
                continue
            if re.search(r"· sft [1-9]\d*/40 ·", msg["content"]["data"]["text/plain"]):
                break
        t0 = time.time()
        self.km.interrupt_kernel()
        while True:
            reply = self.kc.get_shell_msg(timeout=15)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        self.assertLess(time.time() - t0, INTERRUPT_LATENCY_S)
        self.assertEqual(reply["content"]["ename"], "InterruptedError")
        self.assertRegex(reply["content"]["evalue"], r"interrupted at sft \d+/40")
        run_dir = os.path.join(self.cwd, "runs", "interrupt-me")
        with open(os.path.join(run_dir, "checkpoints", "last", "state.json")) as f:
            done = json.load(f)["done"]
        self.assertTrue(0 < done < 40, done)
        reply, out = run_cell(self.kc, "run.status")
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "'interrupted'")
        # resume from the checkpoint: the run finishes, and SFT's steps are each there once
        reply, out = run_cell(self.kc, 'import * as sw from "stepwise";\n(await sw.runPlan(plan, { dir: run.dir, resume: true })).status', timeout=180)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual(of_type(out, "execute_result")[0]["content"]["data"]["text/plain"], "'finished'")
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([r["iteration"] for r in rows if r["stage"] == "sft"], list(range(40)))
        self.assertEqual([r["after"] for r in rows if r["stage"] == "eval"], ["init", "sft"])


    def test_run_refused_by_the_runs_owner(self):
        """A %%stepwise run cell whose run directory another live process owns: an error in the
        cell naming that process's pid, nothing written, and the kernel goes on."""
        run_dir = os.path.join(self.cwd, "runs", "owned-elsewhere")
        holder = subprocess.Popen(["node", "--import", "tsx", os.path.join(REPO, "test", "run", "fixtures", "hold-lock.ts"), run_dir],
                                  cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), f"locked {holder.pid}")
            cell = TINY_RUN.replace('"interrupt-me"', '"owned-elsewhere"')
            reply, out = run_cell(self.kc, cell, timeout=120)
            self.assertEqual(reply["content"]["status"], "error", out)
            self.assertEqual(reply["content"]["ename"], "RunError")
            self.assertRegex(reply["content"]["evalue"], rf"owned-elsewhere is being written by another process: pid {holder.pid} .*nothing was written")
            self.assertEqual(sorted(os.listdir(run_dir)), ["stepwise.lock"])
            # the cell made no run: `run` says so instead of holding an earlier cell's
            reply, out = run_cell(self.kc, "run.dir")
            self.assertEqual(of_type(out, "error")[0]["content"]["ename"], "UnboundError")
            reply, out = run_cell(self.kc, "1 + 1")
            self.assertEqual(reply["content"]["status"], "ok", out)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)


RERUN_SPEC = """%%stepwise run{flags}
experiment "rerun-me"
seed 3
model gpt {{ layers 1, width 32, heads 2, context 64 }}
tokenizer chars
task arithmetic {{ operands 2..2, values 1..9, operators "+-" }}
steps split "\\n"
use grpo
train {{
  sft {{ steps {steps}, lr 3e-3, batch 8 }}
}}
eval {{ prompts 4, max_tokens 24 }}
"""


@unittest.skipUnless(os.path.exists(os.path.join(REPO, "dsl", "index.ts")), "dsl/index.ts (the DSL compiler) does not exist yet")
class RerunTests(unittest.TestCase):
    """A %%stepwise run cell run again, with the real compiler and runner (src/run/rerun.ts): the
    same spec shows its finished run, a changed one is refused in the cell's own options and
    leaves `run` unbound, --suffix and --overwrite get past; the options have a help and a
    did-you-mean."""

    @classmethod
    def setUpClass(cls):
        cls.cwd = tempfile.mkdtemp(prefix="stepwise-kernel-rerun-")
        cls.km, cls.kc = start(cwd=cls.cwd)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def value(self, code):
        reply, out = run_cell(self.kc, code, timeout=60)
        self.assertEqual(reply["content"]["status"], "ok", out)
        return of_type(out, "execute_result")[0]["content"]["data"]["text/plain"]

    def last_view(self, out):
        return (of_type(out, "update_display_data") or of_type(out, "display_data"))[-1]["content"]["data"]["text/plain"]

    def test_run_again(self):
        run_dir = os.path.join(self.cwd, "runs", "rerun-me")
        reply, out = run_cell(self.kc, RERUN_SPEC.format(flags="", steps=6), timeout=180)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual(self.value("run.origin"), "'trained'")
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            metrics = f.read()

        # the same spec, its text laid out differently: the finished run, shown, not trained again
        spaced = RERUN_SPEC.format(flags="", steps=6).replace("seed 3\n", "seed   3    # the same seed\n\n")
        t0 = time.time()
        reply, out = run_cell(self.kc, spaced, timeout=60)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertLess(time.time() - t0, 30)
        view = self.last_view(out)
        self.assertRegex(view, r"^rerun-me · sft 6/6 · finished\n")
        self.assertIn("a finished run of this same spec (not trained again)", view)
        self.assertEqual(self.value("run.origin"), "'recorded'")
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            self.assertEqual(f.read(), metrics)

        # a changed spec: refused in the cell's words; `run` no longer reads the old run
        reply, out = run_cell(self.kc, RERUN_SPEC.format(flags="", steps=7), timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "RunError")
        evalue = err["content"]["evalue"]
        self.assertIn("holds a run of a different spec (train[0].steps: 6 in the run, 7 in this spec)", evalue)
        self.assertIn("Add `--overwrite` to the `%%stepwise run` line", evalue)
        self.assertIn("`--suffix NAME` to keep both", evalue)
        self.assertEqual(err["content"]["traceback"], [f"RunError: {evalue}"])
        reply, out = run_cell(self.kc, "run.dir")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(of_type(out, "error")[0]["content"]["ename"], "UnboundError")
        self.assertIn("`run` is not bound: the %%stepwise run cell that binds it failed (RunError:", of_type(out, "error")[0]["content"]["evalue"])
        self.assertEqual(self.value("plan.train[0].steps"), "7")  # the plan is the cell's own
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            self.assertEqual(f.read(), metrics)

        # --suffix keeps both; --overwrite replaces
        reply, out = run_cell(self.kc, RERUN_SPEC.format(flags=" --suffix seven", steps=7), timeout=180)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual(self.value("run.dir"), repr(run_dir + "-seven"))
        reply, out = run_cell(self.kc, RERUN_SPEC.format(flags=" --overwrite", steps=7), timeout=180)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual(self.value("[run.origin, run.dir]"), f"[ 'trained', {run_dir!r} ]")
        with open(os.path.join(run_dir, "plan.json")) as f:
            self.assertEqual(json.load(f)["train"][0]["steps"], 7)

        # sw.run in a TypeScript cell: the same rules, in sw.run's words
        reply, out = run_cell(self.kc, 'import * as sw from "stepwise";\nconst again = await sw.run({ ...plan, seed: 4 });', timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        [err] = of_type(out, "error")
        self.assertEqual(err["content"]["ename"], "RunError")
        self.assertIn("Add `overwrite: true` to sw.run's options", err["content"]["evalue"])

    def test_compile_error_unbinds(self):
        reply, _ = run_cell(self.kc, '%%stepwise run broken\nexperiment "broken"\nseed "x"\n', timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        for var in ["broken", "brokenRun"]:
            reply, out = run_cell(self.kc, f"{var}.name")
            self.assertEqual(of_type(out, "error")[0]["content"]["ename"], "UnboundError", var)

    def test_help_and_unknown_option(self):
        reply, out = run_cell(self.kc, "%%stepwise --help")
        self.assertEqual(reply["content"]["status"], "ok", out)
        text = "".join(m["content"]["text"] for m in of_type(out, "stream"))
        for flag in ["--overwrite", "--resume", "--suffix NAME"]:
            self.assertIn(flag, text)
        reply, out = run_cell(self.kc, "%%stepwise run --overwirte\nexperiment x\n")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("unknown option --overwirte; did you mean --overwrite?", of_type(out, "error")[0]["content"]["evalue"])


class StockTslabDisplayTests(unittest.TestCase):
    """src/display in stock tslab: whole bundles through tslab's own protocol layer."""

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start(kernel_name="tslab-stock")

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel()

    def test_bundle_and_update(self):
        code = (
            f"const d = require({DISPLAY});\n"
            "console.log(d.kernelKind());\n"
            'const id = d.display({"text/html": "<b>1</b>", "text/plain": "1"}, { id: true });\n'
            'd.updateDisplay(id, {"text/html": "<b>2</b>", "text/plain": "2"});'
        )
        reply, out = run_cell(self.kc, code)
        self.assertEqual(reply["content"]["status"], "ok", out)
        self.assertEqual("".join(m["content"]["text"] for m in of_type(out, "stream")), "tslab\n")
        [shown] = of_type(out, "display_data")
        self.assertEqual(shown["content"]["data"], {"text/html": "<b>1</b>", "text/plain": "1"})
        [update] = of_type(out, "update_display_data")
        self.assertEqual(update["content"]["data"]["text/plain"], "2")
        self.assertEqual(update["content"]["transient"]["display_id"], shown["content"]["transient"]["display_id"])
