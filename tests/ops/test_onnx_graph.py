"""The cross-Hadamard op's ONNX graph (``mmhad/ops/kernels/onnx_graph.py``): what
``torch.onnx.export`` emits for ``cross_hadamard`` and that onnxruntime computes the op
with it, for every norm form, any batch and any spatial size."""
import io

import pytest
import torch
from torch import nn

from mmhad.ops import cross_hadamard, num_pairs_of
from tests.helpers import ach_affine, ach_inputs
from tests.ops.ach_reference import cross_hadamard_reference

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

# the symbolic's nodes; nothing reads a shape, so every axis but C may change
GRAPH_OPS = {'Unsqueeze', 'GatherND', 'Gather', 'Mul', 'Softsign', 'Add', 'Concat',
             'Constant'}


class _Op(nn.Module):
    """``cross_hadamard`` with the selection (and a per-sample affine) as inputs."""

    def __init__(self, scale, shift, alpha, num_pairs):
        super().__init__()
        self.scale, self.shift, self.alpha, self.num_pairs = scale, shift, alpha, num_pairs

    def forward(self, x, idx, *per_sample):
        scale, shift = per_sample if per_sample else (self.scale, self.shift)
        return cross_hadamard(x, idx, None, scale, shift, self.alpha, self.num_pairs)


def _export(module, args, names, dynamic, path):
    torch.onnx.export(module, args, path, input_names=names, output_names=['out'],
                      dynamic_axes=dict(dynamic, out={0: 'b', 2: 'h', 3: 'w'}),
                      opset_version=17, dynamo=False)
    return onnx.load(path), ort.InferenceSession(path, providers=['CPUExecutionProvider'])


@pytest.mark.parametrize('num_pairs', [None, 4])
@pytest.mark.parametrize('affine', [None, 'channel', 'sample'])
@pytest.mark.parametrize('softsign', [False, True])
def test_graph_is_the_symbolic_and_matches_reference(num_pairs, affine, softsign, tmp_path):
    cs = 5
    p = num_pairs_of(cs) if num_pairs is None else num_pairs
    x, idx, g = ach_inputs(b=2, c=9, cs=cs, h=3, w=4, dtype=torch.float32)
    scale, shift = ach_affine(affine, 2, p, torch.float32, g)
    alpha = torch.tensor([0.6]) if softsign else None
    per_sample = affine == 'sample'
    module = _Op(None if per_sample else scale, None if per_sample else shift, alpha,
                 num_pairs)
    names = ['x', 'idx'] + (['scale', 'shift'] if per_sample else [])
    dynamic = {'x': {0: 'b', 2: 'h', 3: 'w'}, 'idx': {0: 'b'}}
    if per_sample:
        dynamic.update(scale={0: 'b'}, shift={0: 'b'})
    args = (x, idx) + ((scale, shift) if per_sample else ())
    model, sess = _export(module, args, names, dynamic, str(tmp_path / 'op.onnx'))

    ops = [n.op_type for n in model.graph.node]
    assert set(ops) <= GRAPH_OPS and 'GatherND' in ops, ops
    # ten nodes; per-sample scale / shift (not constants) each add one Unsqueeze
    assert len([o for o in ops if o != 'Constant']) <= 10 + 2 * per_sample, ops
    # DySoft's alpha multiplies the Cs selected maps (a Mul reading GatherND's output),
    # not the P products
    selected = next(n.output[0] for n in model.graph.node if n.op_type == 'GatherND')
    readers = [n.op_type for n in model.graph.node if selected in n.input]
    assert ('Mul' in readers) == softsign, readers
    # another batch and spatial size than the export's
    x, idx, g = ach_inputs(b=3, c=9, cs=cs, h=6, w=5, dtype=torch.float32, seed=1)
    scale2, shift2 = ach_affine(affine, 3, p, torch.float32, g)
    if not per_sample:
        scale2, shift2 = scale, shift
    feed = dict(x=x.numpy(), idx=idx.numpy())
    if per_sample:
        feed.update(scale=scale2.numpy(), shift=shift2.numpy())
    got = torch.from_numpy(sess.run(None, feed)[0])
    ref = cross_hadamard_reference(x, idx, None, scale2, shift2, alpha, num_pairs=num_pairs)
    assert got.shape == (3, 9 + p, 6, 5)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6)


def test_training_weight_exports_plain_ops(tmp_path):
    """With the straight-through weight (a training-mode export) the op stays the plain
    traceable composition, which still computes the op."""
    x, idx, g = ach_inputs(b=2, c=7, cs=4, dtype=torch.float32)
    weight = torch.rand(2, 4, generator=g) + 0.5

    class _Weighted(nn.Module):

        def forward(self, x, idx, weight):
            return cross_hadamard(x, idx, weight)

    model, sess = _export(_Weighted(), (x, idx, weight), ['x', 'idx', 'weight'],
                          {'x': {0: 'b', 2: 'h', 3: 'w'}, 'idx': {0: 'b'},
                           'weight': {0: 'b'}}, str(tmp_path / 'w.onnx'))
    assert 'GatherND' not in {n.op_type for n in model.graph.node}
    got = sess.run(None, dict(x=x.numpy(), idx=idx.numpy(), weight=weight.numpy()))[0]
    torch.testing.assert_close(torch.from_numpy(got),
                               cross_hadamard_reference(x, idx, weight))


def test_opset_11_exports_the_traced_ops(tmp_path):
    """GatherND's batch_dims needs opset 12; mmdeploy's default opset 11 still exports
    (the traced composition) and computes the op."""
    x, idx, g = ach_inputs(b=2, c=7, cs=4, dtype=torch.float32)
    scale, shift = ach_affine('channel', 2, 6, torch.float32, g)
    path = str(tmp_path / 'op11.onnx')
    torch.onnx.export(_Op(scale, shift, torch.tensor([0.5]), None), (x, idx), path,
                      input_names=['x', 'idx'], opset_version=11, dynamo=False)
    assert 'GatherND' not in {n.op_type for n in onnx.load(path).graph.node}
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = sess.run(None, dict(x=x.numpy(), idx=idx.numpy()))[0]
    torch.testing.assert_close(
        torch.from_numpy(got),
        cross_hadamard_reference(x, idx, None, scale, shift, torch.tensor([0.5])))


def test_the_export_opset_is_read():
    """The symbolic is chosen by the export's opset, read from torch's private state:
    if a torch release moves it, this fails (and exports fall back to the traced ops)."""
    from mmhad.ops.tracing import onnx_export_opset
    seen = []

    class _Probe(nn.Module):

        def forward(self, x):
            seen.append(onnx_export_opset())
            return x + 1

    for opset in (11, 17):
        torch.onnx.export(_Probe(), (torch.ones(1), ), io.BytesIO(), opset_version=opset,
                          dynamo=False)
    assert seen == [11, 17]
