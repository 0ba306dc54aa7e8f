# Writes the parity fixtures of @recur/convert with real PyTorch (and the onnx package for graphs
# torch.onnx.export cannot make): .pt state dicts in every layout a user meets, ONNX exports and
# hand-built control-flow graphs, a Keras-format GRU(reset_after=True) model, files every loader
# must refuse, and the expected outputs as JSON. onnxruntime's and TensorFlow.js's own outputs are
# added by scripts/gen-fixtures-node.mjs. Run: /usr/bin/python3 scripts/gen-fixtures.py

import io
import json
import os
import pickle
import zipfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures')
T, B, I, H = 5, 2, 3, 4


def tensor_json(t):
    a = t.detach().to(torch.float64).numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float64)
    return {'shape': list(a.shape), 'data': [float(v) for v in a.reshape(-1)]}


def write_json(name, obj):
    with open(os.path.join(OUT, name), 'w') as f:
        json.dump(obj, f, separators=(',', ':'))


def run(module, x, state=None):
    """Output and final states of a module in float64 on its float32-rounded weights."""
    m64 = module.to(torch.float64).eval()
    with torch.no_grad():
        out, hn = m64(x.to(torch.float64), state)
    if isinstance(hn, tuple):
        return {'out': tensor_json(out), 'h': tensor_json(hn[0]), 'c': tensor_json(hn[1])}
    return {'out': tensor_json(out), 'h': tensor_json(hn)}


def save_pt(name, obj, **kwargs):
    torch.save(obj, os.path.join(OUT, name), **kwargs)


# ---------------------------------------------------------------- .pt files

def gen_torch():
    cases = {}
    x = torch.randn(T, B, I)

    # A plain state dict, two layers, bidirectional.
    lstm = torch.nn.LSTM(I, H, 2, bidirectional=True)
    save_pt('lstm_bi_2layer.pt', lstm.state_dict())
    cases['lstm_bi_2layer.pt'] = {'module': 'LSTM', 'options': {'inputSize': I, 'hiddenSize': H, 'numLayers': 2, 'bidirectional': True}, 'prefix': '', 'x': tensor_json(x), **run(lstm, x)}

    # Half, bfloat16 and double storages: the module computes on the values the file holds.
    for dtype, mod, opts, fname in [
        (torch.float16, torch.nn.GRU(I, H), {}, 'gru_f16.pt'),
        (torch.bfloat16, torch.nn.RNN(I, H, nonlinearity='relu'), {'nonlinearity': 'relu'}, 'rnn_relu_bf16.pt'),
        (torch.float64, torch.nn.LSTM(I, H, proj_size=2), {'projSize': 2}, 'lstm_proj_f64.pt'),
    ]:
        sd = {k: v.to(dtype) for k, v in mod.state_dict().items()}
        save_pt(fname, sd)
        with torch.no_grad():
            for k, v in mod.state_dict().items():
                v.copy_(sd[k].to(torch.float32))
        kind = type(mod).__name__
        cases[fname] = {'module': kind, 'options': {'inputSize': I, 'hiddenSize': H, **opts}, 'prefix': '', 'x': tensor_json(x), **run(mod, x)}

    # A checkpoint: nested dicts, a transposed view, slices of one shared storage at offsets,
    # a tensor saved twice (one storage), parameters (keep_vars) and non-tensor values.
    gru = torch.nn.GRU(I, H, batch_first=True)
    sd = gru.state_dict()
    w_ih_t = sd['weight_ih_l0'].t().contiguous()   # [I, 3H], stored in this order
    biases = torch.cat([sd['bias_ih_l0'], sd['bias_hh_l0']])  # one storage for both biases
    model = {
        'rnn.weight_ih_l0': w_ih_t.t(),             # a view with strides (1, 3H)
        'rnn.weight_hh_l0': torch.nn.Parameter(sd['weight_hh_l0'].clone()),
        'rnn.bias_ih_l0': biases[: 3 * H],
        'rnn.bias_hh_l0': biases[3 * H:],           # storage offset 3H
        'head.weight': biases[: 3 * H],             # the same slice again
    }
    assert model['rnn.weight_ih_l0'].stride() == (1, 3 * H)
    save_pt('checkpoint_views.pt', {'model': model, 'epoch': 7, 'lr': 0.001, 'note': 'views', 'history': [1.5, None, True]})
    xb = torch.randn(B, T, I)
    cases['checkpoint_views.pt'] = {'module': 'GRU', 'options': {'inputSize': I, 'hiddenSize': H, 'batchFirst': True}, 'prefix': 'model.rnn.', 'x': tensor_json(xb), **run(gru, xb)}

    # Saved with pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE) and big-endian-free defaults.
    cell = torch.nn.LSTMCell(I, H)
    save_pt('lstmcell_proto4.pt', cell.state_dict(), pickle_protocol=4)
    m64 = cell.to(torch.float64)
    with torch.no_grad():
        h, c = m64(x[0].to(torch.float64))
    cases['lstmcell_proto4.pt'] = {'module': 'LSTMCell', 'options': {'inputSize': I, 'hiddenSize': H}, 'prefix': '', 'x': tensor_json(x[0]), 'h': tensor_json(h), 'c': tensor_json(c)}
    write_json('torch-expected.json', cases)

    # Files loadTorch must refuse.
    save_pt('refuse_legacy.pt', torch.nn.RNN(I, H).state_dict(), _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(torch.nn.GRU(I, H)), os.path.join(OUT, 'refuse_torchscript.pt'))

    class Evil:
        def __reduce__(self):
            return (os.system, ('echo recur-must-not-run-this',))

    buf = io.BytesIO()
    torch.save({'weight': torch.zeros(2)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(os.path.join(OUT, 'refuse_global.pt'), 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith('data.pkl'):
                data = pickle.dumps({'weight': Evil()}, protocol=2)
            dst.writestr(info, data)


# ---------------------------------------------------------------- ONNX

def export(name, module, x, **kwargs):
    path = os.path.join(OUT, name)
    torch.onnx.export(module.eval(), (x,), path, opset_version=14, input_names=['x'], **kwargs)


def gen_onnx():
    cases = {}
    x = torch.randn(T, B, I)
    lstm = torch.nn.LSTM(I, H, bidirectional=True)
    export('lstm_bi.onnx', lstm, x, output_names=['out', 'h', 'c'])
    cases['lstm_bi.onnx'] = {'x': tensor_json(x), 'torch': run(lstm, x)}

    gru = torch.nn.GRU(I, H, 2)
    export('gru_2layer.onnx', gru, x, output_names=['out', 'h'])
    cases['gru_2layer.onnx'] = {'x': tensor_json(x), 'torch': run(gru, x)}

    rnn = torch.nn.RNN(I, H, nonlinearity='relu', batch_first=True)
    xb = torch.randn(B, T, I)
    export('rnn_relu_batch_first.onnx', rnn, xb, output_names=['out', 'h'])
    cases['rnn_relu_batch_first.onnx'] = {'x': tensor_json(xb), 'torch': run(rnn, xb)}

    gen_control_flow(cases)
    gen_onnx_refusals()
    write_json('onnx-expected.json', cases)


def rand(*shape):
    return np.random.randn(*shape).astype(np.float32)


def gen_control_flow(cases):
    """If(cond) then an LSTM on outer-scope initializers, else a Loop whose body holds a GRU reading
    a body initializer, a Constant of the else branch and an outer initializer; weights kept as
    float_data in one tensor and raw_data in the others."""
    def f(name, elem, shape):
        return helper.make_tensor_value_info(name, elem, shape if shape is not None else [None] * (4 if name.endswith('Y') else 3))
    lstm_w = numpy_helper.from_array(rand(1, 4 * H, I), 'lstm_W')
    lstm_r = numpy_helper.from_array(rand(1, 4 * H, H), 'lstm_R')
    lstm_b = helper.make_tensor('lstm_B', TensorProto.FLOAT, [1, 8 * H], rand(1, 8 * H).reshape(-1).tolist())
    gru_b = numpy_helper.from_array(rand(1, 6 * H), 'gru_B')
    then_graph = helper.make_graph(
        [helper.make_node('LSTM', ['x', 'lstm_W', 'lstm_R', 'lstm_B'], ['then_Y', 'then_Yh', 'then_Yc'], name='speech_lstm', hidden_size=H)],
        'then_branch', [], [f('then_Y', TensorProto.FLOAT, None), f('then_Yh', TensorProto.FLOAT, None)])
    body = helper.make_graph(
        [helper.make_node('GRU', ['x', 'gru_W', 'gru_R', 'gru_B'], ['body_Y', 'body_Yh'], name='music_gru', hidden_size=H, linear_before_reset=1),
         helper.make_node('Identity', ['cond_in'], ['cond_out'])],
        'loop_body',
        [f('iter', TensorProto.INT64, []), f('cond_in', TensorProto.BOOL, [])],
        [f('cond_out', TensorProto.BOOL, []), f('body_Y', TensorProto.FLOAT, None), f('body_Yh', TensorProto.FLOAT, None)],
        [numpy_helper.from_array(rand(1, 3 * H, I), 'gru_W')])
    trip = numpy_helper.from_array(np.array(1, np.int64), 'trip')
    yes = numpy_helper.from_array(np.array(True), 'yes')
    else_graph = helper.make_graph(
        [helper.make_node('Constant', [], ['gru_R'], value=numpy_helper.from_array(rand(1, 3 * H, H), 'gru_R')),
         helper.make_node('Constant', [], ['trip'], value=trip),
         helper.make_node('Constant', [], ['yes'], value=yes),
         helper.make_node('Loop', ['trip', 'yes'], ['else_Y', 'else_Yh'], body=body)],
        'else_branch', [], [f('else_Y', TensorProto.FLOAT, None), f('else_Yh', TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node('If', ['use_lstm'], ['Y', 'Y_h'], name='pick', then_branch=then_graph, else_branch=else_graph)],
        'control_flow',
        [f('x', TensorProto.FLOAT, [T, B, I]), f('use_lstm', TensorProto.BOOL, [])],
        [f('Y', TensorProto.FLOAT, None), f('Y_h', TensorProto.FLOAT, None)],
        [lstm_w, lstm_r, lstm_b, gru_b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 14)], producer_name='recur-fixtures')
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, 'control_flow.onnx'))
    cases['control_flow.onnx'] = {'x': tensor_json(torch.randn(T, B, I))}


def gen_onnx_refusals():
    W = numpy_helper.from_array(rand(1, 4 * H, I), 'W')
    R = numpy_helper.from_array(rand(1, 4 * H, H), 'R')
    Wg = numpy_helper.from_array(rand(1, 3 * H, I), 'W')
    Rg = numpy_helper.from_array(rand(1, 3 * H, H), 'R')
    P = numpy_helper.from_array(rand(1, 3 * H), 'P')
    variants = {
        'refuse_lstm_peephole.onnx': (helper.make_node('LSTM', ['x', 'W', 'R', '', '', '', '', 'P'], ['Y'], hidden_size=H), [W, R, P]),
        'refuse_lstm_clip.onnx': (helper.make_node('LSTM', ['x', 'W', 'R'], ['Y'], hidden_size=H, clip=3.0), [W, R]),
        'refuse_lstm_input_forget.onnx': (helper.make_node('LSTM', ['x', 'W', 'R'], ['Y'], hidden_size=H, input_forget=1), [W, R]),
        'refuse_lstm_activations.onnx': (helper.make_node('LSTM', ['x', 'W', 'R'], ['Y'], hidden_size=H, activations=['Sigmoid', 'Relu', 'Tanh']), [W, R]),
        'refuse_gru_lbr0.onnx': (helper.make_node('GRU', ['x', 'W', 'R'], ['Y'], hidden_size=H), [Wg, Rg]),
        'refuse_lstm_reverse.onnx': (helper.make_node('LSTM', ['x', 'W', 'R'], ['Y'], hidden_size=H, direction='reverse'), [W, R]),
    }
    for name, (node, inits) in variants.items():
        node.name = 'bad_node'
        graph = helper.make_graph([node], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [T, B, I])],
                                  [helper.make_tensor_value_info('Y', TensorProto.FLOAT, None)], inits)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 14)]), os.path.join(OUT, name))


# ---------------------------------------------------------------- Keras GRU(reset_after=True)

def keras_gru(x, kernel, rec, bias, go_backwards=False):
    """Keras's GRU with reset_after=True (tf.keras GRUCell), gates z, r, h, on [B, T, I] in float64."""
    Hn = rec.shape[0]
    h = np.zeros((x.shape[0], Hn))
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    ys = []
    sig = lambda v: 1 / (1 + np.exp(-v))
    for t in steps:
        xi = x[:, t] @ kernel + bias[0]
        hr = h @ rec + bias[1]
        z = sig(xi[:, :Hn] + hr[:, :Hn])
        r = sig(xi[:, Hn:2 * Hn] + hr[:, Hn:2 * Hn])
        hh = np.tanh(xi[:, 2 * Hn:] + r * hr[:, 2 * Hn:])
        h = z * h + (1 - z) * hh
        ys.append(h)
    if go_backwards:
        ys.reverse()
    return np.stack(ys, 1), h


def gen_keras():
    gru_cfg = lambda name: {'name': name, 'trainable': True, 'dtype': 'float32', 'return_sequences': True, 'return_state': False,
                            'go_backwards': False, 'stateful': False, 'unroll': False, 'time_major': False, 'units': H,
                            'activation': 'tanh', 'recurrent_activation': 'sigmoid', 'use_bias': True, 'reset_after': True,
                            'dropout': 0.0, 'recurrent_dropout': 0.0}
    weights = {
        'gru/gru_cell/kernel': rand(I, 3 * H), 'gru/gru_cell/recurrent_kernel': rand(H, 3 * H), 'gru/gru_cell/bias': rand(2, 3 * H),
        'bidirectional/forward_gru_1/gru_cell/kernel': rand(H, 3 * H), 'bidirectional/forward_gru_1/gru_cell/recurrent_kernel': rand(H, 3 * H),
        'bidirectional/forward_gru_1/gru_cell/bias': rand(2, 3 * H),
        'bidirectional/backward_gru_1/gru_cell/kernel': rand(H, 3 * H), 'bidirectional/backward_gru_1/gru_cell/recurrent_kernel': rand(H, 3 * H),
        'bidirectional/backward_gru_1/gru_cell/bias': rand(2, 3 * H),
    }
    topology = {'class_name': 'Sequential', 'keras_version': '2.11.0', 'backend': 'tensorflow', 'config': {'name': 'sequential', 'layers': [
        {'class_name': 'InputLayer', 'config': {'batch_input_shape': [None, T, I], 'dtype': 'float32', 'sparse': False, 'ragged': False, 'name': 'gru_input'}},
        {'class_name': 'GRU', 'config': gru_cfg('gru')},
        {'class_name': 'Bidirectional', 'config': {'name': 'bidirectional', 'trainable': True, 'dtype': 'float32', 'merge_mode': 'concat',
                                                   'layer': {'class_name': 'GRU', 'config': gru_cfg('gru_1')}}},
    ]}}
    manifest = [{'paths': ['group1-shard1of1.bin'], 'weights': [{'name': k, 'shape': list(v.shape), 'dtype': 'float32'} for k, v in weights.items()]}]
    write_json('keras_gru_reset_after.json', {'format': 'layers-model', 'generatedBy': 'keras v2.11.0', 'convertedBy': 'TensorFlow.js Converter v4.22.0',
                                              'modelTopology': topology, 'weightsManifest': manifest})
    with open(os.path.join(OUT, 'keras_gru_reset_after.bin'), 'wb') as fh:
        for v in weights.values():
            fh.write(v.astype('<f4').tobytes())
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    x = np.random.randn(B, T, I)
    y1, h1 = keras_gru(x, w['gru/gru_cell/kernel'], w['gru/gru_cell/recurrent_kernel'], w['gru/gru_cell/bias'])
    pre = 'bidirectional/%s_gru_1/gru_cell/'
    yf, hf = keras_gru(y1, w[pre % 'forward' + 'kernel'], w[pre % 'forward' + 'recurrent_kernel'], w[pre % 'forward' + 'bias'])
    yb, hb = keras_gru(y1, w[pre % 'backward' + 'kernel'], w[pre % 'backward' + 'recurrent_kernel'], w[pre % 'backward' + 'bias'], True)
    write_json('keras_gru_reset_after.expected.json', {'x': tensor_json(x), 'layers': [
        {'out': tensor_json(y1), 'h': tensor_json(h1[None])},
        {'out': tensor_json(np.concatenate([yf, yb], -1)), 'h': tensor_json(np.stack([hf, hb]))}]})


if __name__ == '__main__':
    torch.manual_seed(0)
    np.random.seed(0)
    os.makedirs(OUT, exist_ok=True)
    gen_torch()
    gen_onnx()
    gen_keras()
    print('wrote', sorted(os.listdir(OUT)))
