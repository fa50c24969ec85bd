"""Test helper for test/compile/python-parity.test.ts: the package's run_probes with a Hugging Face
model (argv[2]) on probes and items read from stdin; prints the values."""
import json
import sys

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from stepwise_probes import run_probes  # noqa: E402

job = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(sys.argv[2], dtype=torch.float32).eval()
json.dump(run_probes(model, tok, job["probes"], job["items"], chunk=3), sys.stdout)
