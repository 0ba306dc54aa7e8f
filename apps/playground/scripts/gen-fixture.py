#!/usr/bin/python3
"""Writes the playground's test weights: a plain PyTorch state_dict as .safetensors, as a user would
save it. Run with Debian's /usr/bin/python3 (python3-torch installed):

    /usr/bin/python3 apps/playground/scripts/gen-fixture.py

The safetensors writer is the nn-recurrent fixture generator's (Debian has no python3-safetensors).
"""

import importlib.util
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "gen_fixtures", os.path.join(HERE, "..", "..", "..", "packages", "nn-recurrent", "scripts", "gen-fixtures.py")
)
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

torch.manual_seed(7)
lstm = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3)
out = os.path.join(HERE, "..", "test", "fixtures", "lstm_4_6_2layers_bi_proj3.safetensors")
gen.save_safetensors(out, dict(lstm.state_dict()), {"format": "pt"})
print(f"wrote {os.path.normpath(out)}")
