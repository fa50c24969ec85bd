"""Test helper for test/compile/python-parity.test.ts: the package's segmentation and verifier on
cases read from stdin ({"segment": [{text, offsets, steps}], "verify": [{kind, response, reference}]})."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import stepwise_steps  # noqa: E402
import stepwise_task  # noqa: E402

cases = json.load(sys.stdin)
json.dump({
    "segment": [stepwise_steps.segment(c["text"], c["offsets"], c["steps"]) for c in cases["segment"]],
    "texts": [stepwise_steps.step_texts(c["text"], c["offsets"], stepwise_steps.segment(c["text"], c["offsets"], c["steps"])) for c in cases["segment"]],
    "verify": [stepwise_task.verify(c["kind"], c["response"], c["reference"]) for c in cases["verify"]],
}, sys.stdout)
