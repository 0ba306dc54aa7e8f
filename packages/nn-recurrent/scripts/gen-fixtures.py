#!/usr/bin/python3
"""Writes the PyTorch parity fixtures for @recur/nn-recurrent.

Run with Debian's interpreter after `apt-get install -y python3-torch python3-numpy`:

    /usr/bin/python3 packages/nn-recurrent/scripts/gen-fixtures.py

Each fixture is one .safetensors file in ../fixtures holding the module's state dict (`param.*`),
the input, the initial state if any and PyTorch's outputs, with the configuration in `__metadata__`.
Debian has no python3-safetensors, so the format is written by hand below, byte for byte as the
specification says (8-byte little-endian header length, JSON header padded with spaces to a multiple
of 8, then the raw little-endian float32 data in header order).
"""

import json
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def save_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f4"))
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


CAMEL = {
    "input_size": "inputSize",
    "hidden_size": "hiddenSize",
    "num_layers": "numLayers",
    "nonlinearity": "nonlinearity",
    "bias": "bias",
    "batch_first": "batchFirst",
    "dropout": "dropout",
    "bidirectional": "bidirectional",
    "proj_size": "projSize",
}

written = []


def emit(name, module_name, kwargs, module, tensors, kind, training=False, note=""):
    state = {f"param.{k}": v for k, v in module.state_dict().items()}
    state.update(tensors)
    meta = {
        "module": module_name,
        "options": json.dumps({CAMEL[k]: v for k, v in kwargs.items()}),
        "kind": kind,
        "training": "true" if training else "false",
        "torch": torch.__version__,
        "note": note,
    }
    save_safetensors(os.path.join(OUT, f"{name}.safetensors"), state, meta)
    written.append(name)


def layer(name, cls, kwargs, shape, seed, h0=False, scale=1.0, note=""):
    """A multi-layer module on a padded input of `shape`, optionally with a random initial state."""
    torch.manual_seed(seed)
    m = getattr(torch.nn, cls)(**kwargs).eval()
    x = torch.randn(*shape) * scale
    batched = len(shape) == 3
    D = 2 if kwargs.get("bidirectional") else 1
    L = kwargs.get("num_layers", 1)
    H = kwargs["hidden_size"]
    P = kwargs.get("proj_size", 0) or H
    B = (shape[0] if kwargs.get("batch_first") else shape[1]) if batched else None
    tensors = {"input": x}
    hx = None
    if h0:
        hs = (L * D, B, P) if batched else (L * D, P)
        tensors["h0"] = torch.randn(*hs)
        if cls == "LSTM":
            cs = (L * D, B, H) if batched else (L * D, H)
            tensors["c0"] = torch.randn(*cs)
            hx = (tensors["h0"], tensors["c0"])
        else:
            hx = tensors["h0"]
    with torch.no_grad():
        out, state = m(x, hx)
    tensors["output"] = out
    if cls == "LSTM":
        tensors["h_n"], tensors["c_n"] = state
    else:
        tensors["h_n"] = state
    emit(name, cls, kwargs, m, tensors, "module", note=note)


def packed(name, cls, kwargs, shape, lengths, enforce_sorted, seed, h0=False):
    """A module on a PackedSequence made from a padded input and lengths; outputs padded back."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(seed)
    m = getattr(torch.nn, cls)(**kwargs).eval()
    batch_first = kwargs.get("batch_first", False)
    x = torch.randn(*shape)
    D = 2 if kwargs.get("bidirectional") else 1
    L = kwargs.get("num_layers", 1)
    H = kwargs["hidden_size"]
    P = kwargs.get("proj_size", 0) or H
    B = shape[0] if batch_first else shape[1]
    tensors = {"input": x, "lengths": torch.tensor(lengths, dtype=torch.float32)}
    hx = None
    if h0:
        tensors["h0"] = torch.randn(L * D, B, P)
        hx = tensors["h0"]
        if cls == "LSTM":
            tensors["c0"] = torch.randn(L * D, B, H)
            hx = (tensors["h0"], tensors["c0"])
    p = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
    with torch.no_grad():
        out, state = m(p, hx)
    padded, _ = pad_packed_sequence(out, batch_first=batch_first)
    tensors["output"] = padded
    tensors["batch_sizes"] = p.batch_sizes.to(torch.float32)
    if cls == "LSTM":
        tensors["h_n"], tensors["c_n"] = state
    else:
        tensors["h_n"] = state
    emit(name, cls, kwargs, m, tensors, "packed", note=json.dumps({"enforceSorted": enforce_sorted}))


def cell(name, cls, kwargs, steps, batch, seed, h0=False, unbatched=False, scale=1.0):
    """A cell stepped by hand over `steps` inputs; `output` stacks h after every step."""
    torch.manual_seed(seed)
    m = getattr(torch.nn, cls)(**kwargs)
    I, H = kwargs["input_size"], kwargs["hidden_size"]
    x = torch.randn(steps, I) * scale if unbatched else torch.randn(steps, batch, I) * scale
    tensors = {"input": x}
    state_shape = (H,) if unbatched else (batch, H)
    hx = None
    if h0:
        tensors["h0"] = torch.randn(*state_shape)
        hx = tensors["h0"]
        if cls == "LSTMCell":
            tensors["c0"] = torch.randn(*state_shape)
            hx = (tensors["h0"], tensors["c0"])
    hs = []
    with torch.no_grad():
        for t in range(steps):
            hx = m(x[t], hx)
            hs.append(hx[0] if cls == "LSTMCell" else hx)
    tensors["output"] = torch.stack(hs)
    tensors["h_n"] = hs[-1]
    if cls == "LSTMCell":
        tensors["c_n"] = hx[1]
    emit(name, cls, kwargs, m, tensors, "cell_steps")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT, f))

    # The seed documents' configurations.
    layer("rnn_5_10_1", "RNN", dict(input_size=5, hidden_size=10, num_layers=1), (6, 3, 5), 1)
    layer("rnn_5_10_2", "RNN", dict(input_size=5, hidden_size=10, num_layers=2), (6, 3, 5), 2)
    layer("rnn_5_10_3", "RNN", dict(input_size=5, hidden_size=10, num_layers=3), (6, 3, 5), 3)
    layer("rnn_bi_1layer", "RNN", dict(input_size=5, hidden_size=10, num_layers=1, bidirectional=True), (6, 3, 5), 4)
    layer("rnn_bi_2layer", "RNN", dict(input_size=5, hidden_size=10, num_layers=2, bidirectional=True), (6, 3, 5), 5)
    layer("lstm_50_100_2", "LSTM", dict(input_size=50, hidden_size=100, num_layers=2), (10, 3, 50), 6)
    layer("gru_10_20_2", "GRU", dict(input_size=10, hidden_size=20, num_layers=2), (3, 32, 10), 7)
    layer("lstm_batch_first", "LSTM", dict(input_size=3, hidden_size=5, batch_first=True), (1, 10, 3), 8)
    cell("rnncell_4_2_steps", "RNNCell", dict(input_size=4, hidden_size=2), 6, 3, 9, h0=True)

    # Options.
    layer("rnn_relu", "RNN", dict(input_size=4, hidden_size=6, num_layers=2, nonlinearity="relu"), (7, 2, 4), 10)
    layer("rnn_relu_bi_h0", "RNN", dict(input_size=4, hidden_size=6, num_layers=2, nonlinearity="relu", bidirectional=True), (7, 2, 4), 11, h0=True)
    layer("rnn_no_bias", "RNN", dict(input_size=4, hidden_size=6, bias=False), (5, 2, 4), 12)
    layer("lstm_no_bias", "LSTM", dict(input_size=4, hidden_size=6, num_layers=2, bias=False), (5, 2, 4), 13)
    layer("gru_no_bias_bi", "GRU", dict(input_size=4, hidden_size=6, bias=False, bidirectional=True), (5, 2, 4), 14)
    layer("gru_batch_first_bi", "GRU", dict(input_size=3, hidden_size=5, num_layers=2, batch_first=True, bidirectional=True), (4, 7, 3), 15)
    layer("rnn_batch_first_h0", "RNN", dict(input_size=3, hidden_size=5, batch_first=True), (4, 7, 3), 16, h0=True)
    layer("lstm_h0_c0", "LSTM", dict(input_size=6, hidden_size=8, num_layers=2), (5, 3, 6), 17, h0=True)
    layer("lstm_bi_2layer_h0", "LSTM", dict(input_size=6, hidden_size=8, num_layers=2, bidirectional=True), (5, 3, 6), 18, h0=True)
    layer("gru_h0", "GRU", dict(input_size=6, hidden_size=8, num_layers=3), (5, 3, 6), 19, h0=True)
    layer("lstm_proj", "LSTM", dict(input_size=8, hidden_size=16, num_layers=2, proj_size=6), (7, 3, 8), 20)
    layer("lstm_proj_bi_h0", "LSTM", dict(input_size=8, hidden_size=16, num_layers=2, proj_size=6, bidirectional=True), (7, 3, 8), 21, h0=True)
    layer("lstm_proj_batch_first", "LSTM", dict(input_size=5, hidden_size=9, proj_size=4, batch_first=True), (2, 6, 5), 22)
    layer("lstm_unbatched", "LSTM", dict(input_size=5, hidden_size=7, num_layers=2), (6, 5), 23)
    layer("lstm_unbatched_h0_bi", "LSTM", dict(input_size=5, hidden_size=7, bidirectional=True), (6, 5), 24, h0=True)
    layer("gru_unbatched_h0", "GRU", dict(input_size=5, hidden_size=7, num_layers=2), (6, 5), 25, h0=True)
    layer("rnn_unbatched_bi", "RNN", dict(input_size=5, hidden_size=7, bidirectional=True), (6, 5), 26)
    layer("lstm_dropout_eval", "LSTM", dict(input_size=4, hidden_size=8, num_layers=3, dropout=0.5), (6, 2, 4), 27, note="eval mode: dropout inactive")
    layer("gru_dropout_eval_bi", "GRU", dict(input_size=4, hidden_size=8, num_layers=2, dropout=0.3, bidirectional=True), (6, 2, 4), 28)

    # Long sequences, saturation, batch 1.
    layer("lstm_long", "LSTM", dict(input_size=8, hidden_size=16), (320, 2, 8), 29)
    layer("gru_long_bi", "GRU", dict(input_size=8, hidden_size=16, bidirectional=True), (300, 2, 8), 30)
    layer("rnn_long", "RNN", dict(input_size=8, hidden_size=16, num_layers=2), (400, 1, 8), 31)
    layer("lstm_saturating", "LSTM", dict(input_size=6, hidden_size=8, num_layers=2, bidirectional=True), (12, 3, 6), 32, h0=True, scale=100.0)
    layer("gru_saturating", "GRU", dict(input_size=6, hidden_size=8, num_layers=2), (12, 3, 6), 33, scale=100.0)
    layer("rnn_saturating", "RNN", dict(input_size=6, hidden_size=8), (12, 3, 6), 34, scale=100.0)
    layer("rnn_relu_saturating", "RNN", dict(input_size=6, hidden_size=8, nonlinearity="relu"), (12, 3, 6), 35, scale=100.0)
    layer("lstm_batch1", "LSTM", dict(input_size=7, hidden_size=9), (11, 1, 7), 36)
    layer("gru_batch1_h0", "GRU", dict(input_size=7, hidden_size=9), (11, 1, 7), 37, h0=True)

    # Cells, with and without state, batched and unbatched.
    for cls, seed in (("RNNCell", 40), ("GRUCell", 42), ("LSTMCell", 44)):
        base = cls.lower()
        cell(f"{base}_zero_state", cls, dict(input_size=5, hidden_size=7), 4, 3, seed)
        cell(f"{base}_state", cls, dict(input_size=5, hidden_size=7), 4, 3, seed + 1, h0=True)
        cell(f"{base}_unbatched_state", cls, dict(input_size=5, hidden_size=7), 4, 1, seed + 100, h0=True, unbatched=True)
        cell(f"{base}_no_bias", cls, dict(input_size=5, hidden_size=7, bias=False), 3, 2, seed + 200)
        cell(f"{base}_saturating", cls, dict(input_size=5, hidden_size=7), 3, 2, seed + 300, h0=True, scale=100.0)
    cell("rnncell_relu", "RNNCell", dict(input_size=5, hidden_size=7, nonlinearity="relu"), 4, 3, 50, h0=True)

    # Packed sequences (torch.nn.utils.rnn).
    packed("packed_lstm_sorted", "LSTM", dict(input_size=4, hidden_size=6, num_layers=2), (5, 3, 4), [5, 3, 2], True, 60)
    packed("packed_lstm_unsorted_h0", "LSTM", dict(input_size=4, hidden_size=6, num_layers=2), (5, 4, 4), [2, 5, 1, 3], False, 61, h0=True)
    packed("packed_lstm_bi_proj_h0", "LSTM", dict(input_size=4, hidden_size=6, num_layers=2, proj_size=3, bidirectional=True), (6, 4, 4), [3, 6, 6, 1], False, 62, h0=True)
    packed("packed_gru_bi_unsorted", "GRU", dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True), (7, 5, 3), [4, 7, 2, 7, 1], False, 63)
    packed("packed_gru_batch_first_h0", "GRU", dict(input_size=3, hidden_size=5, batch_first=True), (4, 6, 3), [6, 4, 4, 2], True, 64, h0=True)
    packed("packed_rnn_relu_bi_h0", "RNN", dict(input_size=3, hidden_size=5, num_layers=2, nonlinearity="relu", bidirectional=True), (6, 3, 3), [1, 6, 4], False, 65, h0=True)
    packed("packed_rnn_batch_first_unsorted", "RNN", dict(input_size=3, hidden_size=5, batch_first=True, bidirectional=True), (5, 8, 3), [8, 3, 8, 5, 2], False, 66)
    packed("packed_lstm_full_lengths", "LSTM", dict(input_size=3, hidden_size=4, bidirectional=True), (5, 2, 3), [5, 5], True, 67)

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"torch": torch.__version__, "fixtures": written}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(written)} fixtures to {os.path.normpath(OUT)} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
