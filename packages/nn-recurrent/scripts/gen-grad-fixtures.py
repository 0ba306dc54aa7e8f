#!/usr/bin/python3
"""Writes the gradient and training parity fixtures (the training half of gen-fixtures.py).

Run with Debian's interpreter after `apt-get install -y python3-torch python3-numpy`:

    /usr/bin/python3 packages/nn-recurrent/scripts/gen-grad-fixtures.py

Every fixture is computed twice by PyTorch from the same float32 inputs: in float64 (the expected
values) and in float32 (what a float32 implementation can be expected to reach). Each expected
tensor carries its tolerance, derived from PyTorch's own float32-vs-float64 error:

    atol = 8 * max(max|f32 - f64|, 2**-23 * max|f64|)

(8x PyTorch's own error, floored at one float32 ulp of the tensor's largest value), so a test that
passes is as close to PyTorch's float64 answer as PyTorch's float32 answer is, within a small factor
for another summation order. Files are JSON (small), in ../fixtures/grad and, for the tensor
operations, ../../core-tensor/test/fixtures/ops-grad.json.
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "grad")
OPS_OUT = os.path.join(HERE, "..", "..", "core-tensor", "test", "fixtures")

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


def arr(t):
    """A tensor as {shape, data} with exact float values."""
    a = t.detach().cpu().double().numpy()
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def expected(t64, t32):
    """The float64 value with its tolerance from PyTorch's float32-vs-float64 error."""
    a64 = t64.detach().double()
    a32 = t32.detach().double()
    err = (a64 - a32).abs().max().item() if a64.numel() else 0.0
    scale = a64.abs().max().item() if a64.numel() else 0.0
    out = arr(a64)
    out["atol"] = 8 * max(err, 2.0**-23 * scale)
    out["torchErr"] = err
    return out


def f32(t):
    return t.detach().float().clone()


def both(run):
    """Runs `run(dtype)` in float64 and float32; returns (results64, results32)."""
    return run(torch.float64), run(torch.float32)


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))


written = []


# ---------------------------------------------------------------- recurrent modules


def module_grad(name, cls, kwargs, shape, seed, h0=False, lengths=None, enforce_sorted=True, train=False):
    """Gradients of loss = sum(out*gOut) + sum(hN*ghN) (+ sum(cN*gcN)) for every parameter and input."""
    torch.manual_seed(seed)
    m32 = getattr(torch.nn, cls)(**kwargs)
    x = torch.randn(*shape)
    D = 2 if kwargs.get("bidirectional") else 1
    L = kwargs.get("num_layers", 1)
    H = kwargs["hidden_size"]
    P = kwargs.get("proj_size", 0) or H
    batched = len(shape) == 3
    bf = kwargs.get("batch_first", False)
    B = (shape[0] if bf else shape[1]) if batched else None
    sshape = lambda size: (L * D, B, size) if batched else (L * D, size)  # noqa: E731
    h = torch.randn(*sshape(P)) if h0 else None
    c = torch.randn(*sshape(H)) if h0 and cls == "LSTM" else None
    params = {k: f32(v) for k, v in m32.state_dict().items()}

    def run(dtype):
        m = getattr(torch.nn, cls)(**kwargs).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in params.items()})
        m.train(train)
        xi = x.to(dtype).requires_grad_()
        hi = h.to(dtype).requires_grad_() if h is not None else None
        ci = c.to(dtype).requires_grad_() if c is not None else None
        hx = (hi, ci) if cls == "LSTM" and hi is not None else hi
        inp = pack_padded_sequence(xi, torch.tensor(lengths), batch_first=bf, enforce_sorted=enforce_sorted) if lengths else xi
        out, state = m(inp, hx)
        if lengths:
            out, _ = pad_packed_sequence(out, batch_first=bf)
        hn, cn = state if cls == "LSTM" else (state, None)
        torch.manual_seed(seed + 1000)
        g_out = torch.randn(out.shape, dtype=torch.float32)
        g_hn = torch.randn(hn.shape, dtype=torch.float32)
        g_cn = torch.randn(cn.shape, dtype=torch.float32) if cn is not None else None
        loss = (out * g_out.to(dtype)).sum() + (hn * g_hn.to(dtype)).sum()
        if cn is not None:
            loss = loss + (cn * g_cn.to(dtype)).sum()
        loss.backward()
        res = {"out": out, "hN": hn, "x": xi.grad}
        if cn is not None:
            res["cN"] = cn
        if hi is not None:
            res["h0"] = hi.grad
        if ci is not None:
            res["c0"] = ci.grad
        for k, p in m.named_parameters():
            res[f"param.{k}"] = p.grad
        return res, {"gOut": g_out, "ghN": g_hn, "gcN": g_cn}

    (r64, g), (r32, _) = both(run)
    fixture = {
        "name": name,
        "module": cls,
        "kind": "packed" if lengths else "module",
        "options": {CAMEL[k]: v for k, v in kwargs.items()},
        "training": train,
        "params": {k: arr(v) for k, v in params.items()},
        "input": arr(x),
        "h0": arr(h) if h is not None else None,
        "c0": arr(c) if c is not None else None,
        "lengths": lengths,
        "enforceSorted": enforce_sorted,
        "upstream": {k: arr(v) for k, v in g.items() if v is not None},
        "expected": {k: expected(r64[k], r32[k]) for k in r64},
        "torch": torch.__version__,
    }
    write(os.path.join(OUT, f"{name}.json"), fixture)
    written.append(name)


def cell_grad(name, cls, kwargs, steps, batch, seed, h0=True, unbatched=False):
    """A cell stepped `steps` times; loss = sum_t sum(h_t * G_t) (+ sum(c_T * Gc))."""
    torch.manual_seed(seed)
    m32 = getattr(torch.nn, cls)(**kwargs)
    I, H = kwargs["input_size"], kwargs["hidden_size"]
    x = torch.randn(steps, I) if unbatched else torch.randn(steps, batch, I)
    st = (H,) if unbatched else (batch, H)
    h = torch.randn(*st) if h0 else None
    c = torch.randn(*st) if h0 and cls == "LSTMCell" else None
    params = {k: f32(v) for k, v in m32.state_dict().items()}
    torch.manual_seed(seed + 1000)
    gh = torch.randn(steps, *st)
    gc = torch.randn(*st)

    def run(dtype):
        m = getattr(torch.nn, cls)(**kwargs).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in params.items()})
        xi = x.to(dtype).requires_grad_()
        hi = h.to(dtype).requires_grad_() if h is not None else None
        ci = c.to(dtype).requires_grad_() if c is not None else None
        hx = (hi, ci) if cls == "LSTMCell" and hi is not None else hi
        loss = 0
        hs = []
        for t in range(steps):
            hx = m(xi[t], hx)
            ht = hx[0] if cls == "LSTMCell" else hx
            hs.append(ht)
            loss = loss + (ht * gh[t].to(dtype)).sum()
        if cls == "LSTMCell":
            loss = loss + (hx[1] * gc.to(dtype)).sum()
        loss.backward()
        res = {"out": torch.stack(hs), "x": xi.grad}
        if hi is not None:
            res["h0"] = hi.grad
        if ci is not None:
            res["c0"] = ci.grad
        for k, p in m.named_parameters():
            res[f"param.{k}"] = p.grad
        return res

    r64, r32 = both(run)
    fixture = {
        "name": name,
        "module": cls,
        "kind": "cell",
        "options": {CAMEL[k]: v for k, v in kwargs.items()},
        "training": True,
        "params": {k: arr(v) for k, v in params.items()},
        "input": arr(x),
        "h0": arr(h) if h is not None else None,
        "c0": arr(c) if c is not None else None,
        "upstream": {"gH": arr(gh), **({"gcN": arr(gc)} if cls == "LSTMCell" else {})},
        "expected": {k: expected(r64[k], r32[k]) for k in r64},
        "torch": torch.__version__,
    }
    write(os.path.join(OUT, f"{name}.json"), fixture)
    written.append(name)


# ---------------------------------------------------------------- heads and losses


def heads_and_losses():
    torch.manual_seed(40)
    lin = torch.nn.Linear(5, 3)
    emb = torch.nn.Embedding(7, 4)
    params = {"linear." + k: f32(v) for k, v in lin.state_dict().items()}
    params.update({"embedding." + k: f32(v) for k, v in emb.state_dict().items()})
    x = torch.randn(2, 4, 5)
    idx = torch.tensor([[1, 6, 0], [3, 3, 2]])
    logits_in = torch.randn(6, 4)
    classes = torch.tensor([0, 3, 1, 2, 3, 1])
    ignore_classes = torch.tensor([0, -100, 1, 2, -100, 1])
    reg_pred = torch.randn(3, 4)
    reg_target = torch.randn(3, 4)
    bce_x = torch.randn(5, 2) * 3
    bce_y = torch.rand(5, 2)

    def run(dtype):
        ln = torch.nn.Linear(5, 3).to(dtype)
        ln.load_state_dict({k[7:]: v.to(dtype) for k, v in params.items() if k.startswith("linear.")})
        em = torch.nn.Embedding(7, 4).to(dtype)
        em.load_state_dict({k[10:]: v.to(dtype) for k, v in params.items() if k.startswith("embedding.")})
        xi = x.to(dtype).requires_grad_()
        li = logits_in.to(dtype).requires_grad_()
        pi = reg_pred.to(dtype).requires_grad_()
        bi = bce_x.to(dtype).requires_grad_()
        y = ln(xi)
        e = em(idx)
        losses = {
            "mse_mean": F.mse_loss(pi, reg_target.to(dtype)),
            "mse_sum": F.mse_loss(pi, reg_target.to(dtype), reduction="sum"),
            "ce_mean": F.cross_entropy(li, classes),
            "ce_sum": F.cross_entropy(li, classes, reduction="sum"),
            "ce_ignore_mean": F.cross_entropy(li, ignore_classes, ignore_index=-100),
            "ce_ignore_none": F.cross_entropy(li, ignore_classes, ignore_index=-100, reduction="none"),
            "bce_mean": F.binary_cross_entropy_with_logits(bi, bce_y.to(dtype)),
            "bce_none": F.binary_cross_entropy_with_logits(bi, bce_y.to(dtype), reduction="none"),
        }
        torch.manual_seed(41)
        gy = torch.randn(y.shape).to(dtype)
        ge = torch.randn(e.shape).to(dtype)
        total = (y * gy).sum() + (e * ge).sum()
        for k, v in losses.items():
            total = total + (v if v.dim() == 0 else (v * torch.linspace(0.5, 1.5, v.numel(), dtype=dtype).reshape(v.shape)).sum())
        total.backward()
        res = {"linear.out": y, "embedding.out": e, "x": xi.grad, "logits": li.grad, "pred": pi.grad, "bceX": bi.grad}
        res.update({f"loss.{k}": v for k, v in losses.items()})
        res.update({f"grad.linear.{k}": p.grad for k, p in ln.named_parameters()})
        res.update({f"grad.embedding.{k}": p.grad for k, p in em.named_parameters()})
        return res, {"gy": gy.float(), "ge": ge.float()}

    (r64, g), (r32, _) = both(run)
    write(
        os.path.join(OUT, "heads_and_losses.json"),
        {
            "params": {k: arr(v) for k, v in params.items()},
            "x": arr(x),
            "indices": idx.reshape(-1).tolist(),
            "indicesShape": list(idx.shape),
            "logits": arr(logits_in),
            "classes": classes.tolist(),
            "ignoreClasses": ignore_classes.tolist(),
            "pred": arr(reg_pred),
            "target": arr(reg_target),
            "bceX": arr(bce_x),
            "bceY": arr(bce_y),
            "upstream": {k: arr(v) for k, v in g.items()},
            "expected": {k: expected(r64[k], r32[k]) for k in r64},
        },
    )


# ---------------------------------------------------------------- optimizers


def optimizers():
    torch.manual_seed(50)
    p0 = torch.randn(6)
    grads = [torch.randn(6) for _ in range(4)]
    cases = {
        "sgd": ("SGD", dict(lr=0.1)),
        "sgd_momentum": ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
        "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.02, nesterov=True)),
        "adam": ("Adam", dict(lr=0.01)),
        "adam_wd": ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
        "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    }
    out = {"p0": arr(p0), "grads": [arr(g) for g in grads], "cases": {}}
    for name, (cls, kw) in cases.items():

        def run(dtype):
            p = torch.nn.Parameter(p0.to(dtype).clone())
            opt = getattr(torch.optim, cls)([p], **kw)
            steps = []
            for g in grads:
                p.grad = g.to(dtype).clone()
                opt.step()
                steps.append(p.detach().clone())
            return torch.stack(steps)

        r64, r32 = both(run)
        camel = {("weightDecay" if k == "weight_decay" else k): (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        out["cases"][name] = {"optimizer": cls, "options": camel, "expected": expected(r64, r32)}
    write(os.path.join(OUT, "optimizers.json"), out)


# ---------------------------------------------------------------- training runs


def train_lstm_regressor():
    """LSTM(3, 8) + Linear(8, 1) regressing a sine wave, Adam(lr=0.01) with clip_grad_norm(1.0)."""
    torch.manual_seed(60)
    lstm = torch.nn.LSTM(3, 8)
    head = torch.nn.Linear(8, 1)
    params = {"lstm." + k: f32(v) for k, v in lstm.state_dict().items()}
    params.update({"head." + k: f32(v) for k, v in head.state_dict().items()})
    t = torch.arange(12 * 4, dtype=torch.float32).reshape(12, 4, 1) * 0.3
    x = torch.cat([torch.sin(t), torch.cos(t), torch.randn(12, 4, 1) * 0.1], dim=2)
    y = torch.sin(t + 0.3)
    steps = 20

    def run(dtype):
        l = torch.nn.LSTM(3, 8).to(dtype)
        h = torch.nn.Linear(8, 1).to(dtype)
        l.load_state_dict({k[5:]: v.to(dtype) for k, v in params.items() if k.startswith("lstm.")})
        h.load_state_dict({k[5:]: v.to(dtype) for k, v in params.items() if k.startswith("head.")})
        ps = list(l.parameters()) + list(h.parameters())
        opt = torch.optim.Adam(ps, lr=0.01)
        losses, norms = [], []
        for _ in range(steps):
            opt.zero_grad()
            out, _ = l(x.to(dtype))
            loss = F.mse_loss(h(out), y.to(dtype))
            loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(ps, 1.0).detach())
            opt.step()
            losses.append(loss.detach())
        final = {f"lstm.{k}": v for k, v in l.state_dict().items()}
        final.update({f"head.{k}": v for k, v in h.state_dict().items()})
        return {"losses": torch.stack(losses), "norms": torch.stack(norms), **{f"final.{k}": v for k, v in final.items()}}

    r64, r32 = both(run)
    write(
        os.path.join(OUT, "train_lstm_regressor.json"),
        {"params": {k: arr(v) for k, v in params.items()}, "x": arr(x), "y": arr(y), "steps": steps,
         "expected": {k: expected(r64[k], r32[k]) for k in r64}},
    )


def train_char_gru():
    """Embedding(10, 6) + GRU(6, 12, 2 layers) + Linear(12, 10) on next-character prediction, SGD momentum."""
    torch.manual_seed(70)
    emb = torch.nn.Embedding(10, 6)
    gru = torch.nn.GRU(6, 12, num_layers=2)
    head = torch.nn.Linear(12, 10)
    params = {"emb." + k: f32(v) for k, v in emb.state_dict().items()}
    params.update({"gru." + k: f32(v) for k, v in gru.state_dict().items()})
    params.update({"head." + k: f32(v) for k, v in head.state_dict().items()})
    text = "hello world, hello recur"
    vocab = sorted(set(text))[:10]
    codes = [vocab.index(ch) if ch in vocab else 0 for ch in text]
    T, B = 8, 2
    seq = torch.tensor([codes[b * 9 : b * 9 + T + 1] for b in range(B)]).t()  # [T+1, B]
    inp, target = seq[:-1], seq[1:]
    steps = 15

    def run(dtype):
        e = torch.nn.Embedding(10, 6).to(dtype)
        g = torch.nn.GRU(6, 12, num_layers=2).to(dtype)
        h = torch.nn.Linear(12, 10).to(dtype)
        for mod, pre in ((e, "emb."), (g, "gru."), (h, "head.")):
            mod.load_state_dict({k[len(pre):]: v.to(dtype) for k, v in params.items() if k.startswith(pre)})
        ps = list(e.parameters()) + list(g.parameters()) + list(h.parameters())
        opt = torch.optim.SGD(ps, lr=0.5, momentum=0.9)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            out, _ = g(e(inp))
            loss = F.cross_entropy(h(out).reshape(T * B, 10), target.reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        final = {f"emb.{k}": v for k, v in e.state_dict().items()}
        final.update({f"gru.{k}": v for k, v in g.state_dict().items()})
        final.update({f"head.{k}": v for k, v in h.state_dict().items()})
        return {"losses": torch.stack(losses), **{f"final.{k}": v for k, v in final.items()}}

    r64, r32 = both(run)
    write(
        os.path.join(OUT, "train_char_gru.json"),
        {"params": {k: arr(v) for k, v in params.items()}, "input": inp.reshape(-1).tolist(), "target": target.reshape(-1).tolist(),
         "T": T, "B": B, "steps": steps, "expected": {k: expected(r64[k], r32[k]) for k in r64}},
    )


# ---------------------------------------------------------------- tensor operations


def ops():
    torch.manual_seed(80)
    cases = []

    def case(name, shapes, fn, positive=False):
        inputs = [torch.rand(*s) + 0.5 if positive else torch.randn(*s) for s in shapes]

        def run(dtype):
            xs = [x.to(dtype).requires_grad_() for x in inputs]
            y = fn(*xs)
            torch.manual_seed(sum(map(ord, name)))
            g = torch.randn(y.shape)
            (y * g.to(dtype)).sum().backward()
            return {"out": y, **{f"grad{i}": x.grad for i, x in enumerate(xs)}}, g

        (r64, g), (r32, _) = both(run)
        cases.append({"name": name, "inputs": [arr(x) for x in inputs], "upstream": arr(g),
                      "expected": {k: expected(r64[k], r32[k]) for k in r64}})

    case("add broadcast", [(3, 1, 4), (4,)], lambda a, b: a + b)
    case("sub broadcast", [(2, 3), (3, 1, 1)], lambda a, b: a - b)
    case("mul broadcast", [(4, 1), (1, 5)], lambda a, b: a * b)
    case("div broadcast", [(2, 3), (3,)], lambda a, b: a / b, positive=True)
    case("neg", [(3, 2)], lambda a: -a)
    case("matmul 3d@2d", [(2, 3, 4), (4, 5)], lambda a, b: a @ b)
    case("matmul 1d@2d", [(4,), (4, 3)], lambda a, b: a @ b)
    case("matmul 2d@1d", [(3, 4), (4,)], lambda a, b: a @ b)
    case("sum all", [(3, 4)], lambda a: a.sum())
    case("sum dim 1 keepdim", [(2, 3, 4)], lambda a: a.sum(1, keepdim=True))
    case("sum dim -1", [(2, 3, 4)], lambda a: a.sum(-1))
    case("mean all", [(3, 4)], lambda a: a.mean())
    case("mean dim 0", [(3, 4)], lambda a: a.mean(0))
    case("exp", [(3, 4)], lambda a: a.exp())
    case("log", [(3, 4)], lambda a: a.log(), positive=True)
    case("tanh", [(3, 4)], lambda a: a.tanh())
    case("sigmoid", [(3, 4)], lambda a: a.sigmoid())
    case("relu", [(3, 4)], lambda a: a.relu())
    case("softmax dim 1", [(3, 5)], lambda a: a.softmax(1))
    case("softmax dim 0", [(3, 5)], lambda a: a.softmax(0))
    case("logSoftmax dim -1", [(2, 3, 5)], lambda a: a.log_softmax(-1))
    case("reshape", [(2, 6)], lambda a: a.reshape(3, 4))
    case("transpose", [(2, 3, 4)], lambda a: a.transpose(0, 2))
    case("select", [(3, 4, 2)], lambda a: a.select(1, 2))
    case("narrow", [(3, 6)], lambda a: a.narrow(1, 2, 3))
    case("cat dim 1", [(2, 3), (2, 2)], lambda a, b: torch.cat([a, b], 1))
    case("stack dim 1", [(2, 3), (2, 3)], lambda a, b: torch.stack([a, b], 1))
    case("chain", [(3, 4), (4, 2)], lambda a, b: ((a @ b).tanh() * 2 - 1).softmax(1).log())
    write(os.path.join(OPS_OUT, "ops-grad.json"), {"torch": torch.__version__, "cases": cases})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".json"):
            os.remove(os.path.join(OUT, f))
    module_grad("lstm_2layer_bi_proj_h0", "LSTM", dict(input_size=4, hidden_size=6, num_layers=2, bidirectional=True, proj_size=3), (5, 3, 4), 1, h0=True)
    module_grad("lstm_batch_first", "LSTM", dict(input_size=3, hidden_size=5, batch_first=True), (2, 6, 3), 2, h0=True)
    module_grad("lstm_no_bias_unbatched", "LSTM", dict(input_size=3, hidden_size=4, bias=False), (7, 3), 3, h0=True)
    module_grad("gru_2layer_bi", "GRU", dict(input_size=4, hidden_size=5, num_layers=2, bidirectional=True), (6, 2, 4), 4, h0=True)
    module_grad("gru_no_bias", "GRU", dict(input_size=3, hidden_size=4, bias=False), (5, 2, 3), 5)
    module_grad("rnn_tanh_2layer", "RNN", dict(input_size=3, hidden_size=5, num_layers=2), (6, 2, 3), 6, h0=True)
    module_grad("rnn_relu_bi_batch_first", "RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", bidirectional=True, batch_first=True), (3, 5, 3), 7)
    module_grad("lstm_packed_unsorted_bi", "LSTM", dict(input_size=3, hidden_size=4, bidirectional=True), (6, 3, 3), 8, h0=True, lengths=[4, 6, 2], enforce_sorted=False)
    module_grad("gru_packed_2layer", "GRU", dict(input_size=3, hidden_size=4, num_layers=2), (5, 3, 3), 9, lengths=[5, 3, 1])
    module_grad("lstm_long", "LSTM", dict(input_size=8, hidden_size=16), (40, 4, 8), 10, h0=True)
    cell_grad("lstmcell_steps", "LSTMCell", dict(input_size=3, hidden_size=4), 4, 2, 11)
    cell_grad("grucell_steps", "GRUCell", dict(input_size=3, hidden_size=4), 4, 2, 12)
    cell_grad("rnncell_relu_unbatched", "RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="relu"), 3, None, 13, unbatched=True)
    heads_and_losses()
    optimizers()
    train_lstm_regressor()
    train_char_gru()
    ops()
    write(os.path.join(OUT, "index.json"), {"modules": written})
    print(f"wrote {len(written)} module gradient fixtures and the heads, optimizer, training and ops fixtures")


if __name__ == "__main__":
    main()
