"""Time the fused ACH op against plain PyTorch and a memory-copy floor.

    python tools/analysis/benchmark_ach.py                 # CPU, all shapes
    python tools/analysis/benchmark_ach.py --no-ext        # only the PyTorch fallback
    python tools/analysis/benchmark_ach.py --device cuda   # GPU (Triton when available)

Shapes: the ACH layers of Hadaptive-Net S/M/L (channel counts and ``cs`` from the public
``hadaptivenet_{s,m,l}.yaml``) at a 224x224 input: stage 3 at 14x14, stage 4 at 7x7;
batch 1 and 32. Products are normalised with a per-channel affine (BatchNorm at
inference), which both sides apply.

* inference: ``cross_hadamard`` under no_grad vs. the composition gather -> index i ->
  index j -> multiply -> scale -> shift -> cat (how the public code runs it), and vs. a
  floor: ``out.copy_(src)`` for a tensor of the output's size.
* training: forward + backward of ``cross_hadamard`` with the straight-through selection
  weight vs. the one-hot composition ``Z = (M' * M^H) X`` of Eqs. 5-8.

On CPU both of our implementations are timed: the C++ kernels ("ext", the default; built by
``tools/install.sh``, see ``mmhad/ops/kernels/cpu_ext.py``) and the pure-PyTorch fallback used
where no compiler exists ("torch").
Times are the best of repeated runs (robust on a shared machine), in microseconds.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmhad.ops import (cross_hadamard, num_pairs_of, straight_through_weight,  # noqa: E402
                       use_cpu_extension)
from tools.analysis.benchmarking.meters import env_info, time_runs  # noqa: E402
from tools.analysis.benchmarking.report import markdown_table  # noqa: E402
from tools.analysis.ach_peers import (cross_hadamard_onehot_reference,  # noqa: E402
                                      cross_hadamard_reference)

# (name, C, cs, H) -- hadaptivenet_{s,m,l}.yaml, stage 3 (14x14) / stage 4 (7x7) at 224^2
SHAPES = [
    ('S st3', 96, 16, 14), ('S st4', 128, 32, 7),
    ('M st3', 128, 24, 14), ('M st4', 192, 36, 7),
    ('L st3', 192, 32, 14), ('L st4', 256, 36, 7),
]


def timeit(fn, device, min_time=0.2, warmup=3):
    """Best wall time of at least 5 calls spanning ``min_time`` seconds (the best run is
    stable on a shared machine), measured by the shared meter."""
    sync = torch.cuda.synchronize if device.type == 'cuda' else None
    return min(time_runs(fn, warmup, repeat=5, sync=sync, min_seconds=min_time))


def make_inputs(b, c, cs, h, device, requires_grad=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, c, h, h, generator=g).to(device)
    logits = torch.randn(b, c, generator=g).to(device)
    idx = logits.topk(cs, dim=1).indices
    p = num_pairs_of(cs)
    scale = (torch.rand(p, generator=g) + 0.5).to(device)
    shift = torch.randn(p, generator=g).to(device)
    soft = logits.softmax(1)
    if requires_grad:
        for t in (x, scale, shift, soft):
            t.requires_grad_(True)
    return x, idx, scale, shift, soft


def bench(device, batches, modes, min_time, impls):
    rows = []
    for name, c, cs, h in SHAPES:
        for b in batches:
            p = num_pairs_of(cs)
            row = dict(shape=f'{name} B={b} C={c} Cs={cs} {h}x{h} -> {c + p}')
            if 'infer' in modes:
                x, idx, scale, shift, _ = make_inputs(b, c, cs, h, device)
                with torch.no_grad():
                    ref = cross_hadamard_reference(x, idx, scale=scale, shift=shift)
                    for impl in impls:
                        select(impl)
                        torch.testing.assert_close(
                            cross_hadamard(x, idx, scale=scale, shift=shift), ref)
                        row[f'inf_{impl}'] = timeit(
                            lambda: cross_hadamard(x, idx, scale=scale, shift=shift),
                            device, min_time)
                    row['inf_comp'] = timeit(
                        lambda: cross_hadamard_reference(x, idx, scale=scale, shift=shift),
                        device, min_time)
                    src = torch.randn_like(ref)
                    dst = torch.empty_like(ref)
                    row['floor'] = timeit(lambda: dst.copy_(src), device, min_time)
            if 'train' in modes:
                x, idx, scale, shift, soft = make_inputs(b, c, cs, h, device, True)
                gout = torch.randn(b, c + p, h, h, device=device)
                leaves = (x, scale, shift, soft)

                def ours_step():
                    w = straight_through_weight(soft, idx)
                    out = cross_hadamard(x, idx, w, scale, shift)
                    return torch.autograd.grad(out, leaves, gout)

                def comp_step():
                    out = cross_hadamard_onehot_reference(x, idx, soft, scale, shift)
                    return torch.autograd.grad(out, leaves, gout)

                expected = comp_step()
                for impl in impls:
                    select(impl)
                    for a, r in zip(ours_step(), expected):
                        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)
                    row[f'tr_{impl}'] = timeit(ours_step, device, min_time)
                row['tr_comp'] = timeit(comp_step, device, min_time)
            rows.append(row)
            print('.', end='', flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return rows


def select(impl):
    """'torch' / 'ext' on CPU; 'gpu' (Triton or torch, whatever the op dispatches to)."""
    if impl in ('torch', 'ext'):
        use_cpu_extension(impl == 'ext')


def us(t):
    return f'{t * 1e6:.0f}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, nargs='+', default=[1, 32])
    parser.add_argument('--modes', nargs='+', default=['infer', 'train'],
                        choices=['infer', 'train'])
    parser.add_argument('--min-time', type=float, default=0.3,
                        help='seconds spent timing each case (best run is reported)')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--no-ext', action='store_true',
                        help='do not build / time the C++ CPU kernels (fallback only)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cpu':
        impls = ['torch']
        if not args.no_ext:
            try:
                use_cpu_extension(True)
                impls.append('ext')
            except Exception as exc:  # no compiler
                print(f'C++ kernel unavailable ({exc!r}); timing the torch path only',
                      file=sys.stderr)
    else:
        impls = ['gpu']
    rows = bench(device, args.batch, args.modes, args.min_time, impls)

    env = env_info(torch)
    print(f'\ndevice={device} torch={env["torch"]} threads={env["threads"]} '
          f'python={env["python"]} (best-of-runs, microseconds; "x" columns: speed-up of ours over the '
          f'composition, and ours / floor)\n')
    if 'infer' in args.modes:
        head = ['inference'] + [f'ours ({i})' for i in impls] + ['comp', 'floor']
        head += [f'comp/{i}' for i in impls] + [f'{i}/floor' for i in impls]
        table = []
        for r in rows:
            cells = [r['shape']] + [us(r[f'inf_{i}']) for i in impls]
            cells += [us(r['inf_comp']), us(r['floor'])]
            cells += [f"{r['inf_comp'] / r[f'inf_{i}']:.1f}x" for i in impls]
            cells += [f"{r[f'inf_{i}'] / r['floor']:.2f}x" for i in impls]
            table.append(cells)
        print(markdown_table(head, table))
        print()
    if 'train' in args.modes:
        head = ['training fwd+bwd'] + [f'ours ({i})' for i in impls] + ['comp']
        head += [f'comp/{i}' for i in impls]
        table = []
        for r in rows:
            cells = [r['shape']] + [us(r[f'tr_{i}']) for i in impls] + [us(r['tr_comp'])]
            cells += [f"{r['tr_comp'] / r[f'tr_{i}']:.1f}x" for i in impls]
            table.append(cells)
        print(markdown_table(head, table))


if __name__ == '__main__':
    main()
