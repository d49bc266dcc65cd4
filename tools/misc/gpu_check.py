"""The GPU checks, in one short run (``bash tools/misc/gpu_check.sh``, < 8 min on one GPU).

1. ACH op: the Triton forward against the PyTorch path on the same GPU, and the gradients
   through it against the PyTorch path's (Hadaptive-Net's layer shapes, fp32 and fp16);
2. one fp16-AMP training step per family (smallest arch of every registered backbone +
   a linear classifier): the loss and every gradient finite;
3. GPU latency of every backbone arch against mmpretrain's MobileNetV3 (small, large)
   at 224x224, batch 1 and 32, eval mode, median of timed runs after warm-up (CUDA-synced),
   and the deploy form (``switch_to_deploy``), printed as a markdown table with the ratio
   to MobileNetV3-small measured in the same run.

    python tools/misc/gpu_check.py [--device cuda] [--runs 30] [--out gpu_check.md]

``--device cpu`` runs the same code on the CPU with tiny sizes (what the CPU test does,
``tests/tools/test_gpu_check.py``); the Triton check is then reported as skipped. Exit
code 1 when a parity or finiteness check fails.
"""
import argparse
import math
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# Hadaptive-Net's ACH layers (stage, C, Cs, H) at 224x224 input
ACH_SHAPES = [('S st3', 96, 16, 14), ('S st4', 128, 32, 7), ('M st3', 128, 24, 14),
              ('L st4', 256, 36, 7)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--runs', type=int, default=30, help='timed runs per latency')
    parser.add_argument('--size', type=int, default=224, help='latency input side')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    parser.add_argument('--out', help='also write the report (markdown) here')
    return parser.parse_args(argv)


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def rel_err(a, b):
    return float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-12))


def check_ach(device, lines):
    """Triton forward vs PyTorch forward, and gradients through both, on ``device``."""
    from mmhad.ops import cross_hadamard, pair_indices
    from mmhad.ops import dispatch
    lines.append('## ACH op: Triton vs PyTorch path\n')
    if device.type != 'cuda' or not dispatch.triton_available():
        lines.append(f'skipped: needs CUDA and Triton (device {device}, Triton '
                     f'{"available" if dispatch.triton_available() else "missing"})\n')
        return True
    ok = True
    rows = []
    gen = torch.Generator().manual_seed(0)
    for name, c, cs, h in ACH_SHAPES:
        p = len(pair_indices(cs)[0])
        for dtype, tol in ((torch.float32, 1e-5), (torch.float16, 2e-3)):
            x = torch.randn(8, c, h, h, generator=gen).to(device, dtype)
            idx = torch.stack([torch.randperm(c, generator=gen)[:cs] for _ in range(8)]).to(device)
            scale = (torch.rand(p, generator=gen) + 0.5).to(device, dtype)
            shift = torch.randn(p, generator=gen).to(device, dtype)
            results = []
            for triton in (True, False):
                dispatch.STATE.triton = triton
                xi = x.clone().requires_grad_()
                out = cross_hadamard(xi, idx, None, scale, shift, None, p)
                out.float().square().mean().backward()
                sync(device)
                results.append((out.detach(), xi.grad))
            dispatch.STATE.triton = None  # probe again for the next case
            (out_t, g_t), (out_r, g_r) = results
            fwd, bwd = rel_err(out_t, out_r), rel_err(g_t, g_r)
            good = fwd <= tol and bwd <= tol
            ok &= good
            rows.append([name, str(dtype).split('.')[-1], f'{fwd:.1e}', f'{bwd:.1e}',
                         'ok' if good else f'FAIL (> {tol:g})'])
    lines.append(markdown(['layer', 'dtype', 'forward rel. err', 'input-grad rel. err',
                           'check'], rows))
    return ok


def backbones():
    """(type, arch, class) of every registered mmhad backbone arch."""
    from mmengine.registry import MODELS

    import mmhad  # noqa: F401
    found = []
    for name, cls in sorted(MODELS.module_dict.items()):
        if cls.__module__.startswith('mmhad.models.backbones.'):
            found += [(name, arch, cls) for arch in cls.arch_settings]
    return found


def check_amp_step(device, lines, size):
    """One fp16-AMP (bf16 on CPU) training step of every family's smallest arch."""
    lines.append('\n## One AMP training step per family\n')
    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    rows, ok = [], True
    by_family = {}
    for name, arch, cls in backbones():
        params = sum(p.numel() for p in cls(arch=arch).parameters())
        if name not in by_family or params < by_family[name][1]:
            by_family[name] = (arch, params)
    for name, (arch, _) in sorted(by_family.items()):
        from mmengine.registry import MODELS
        torch.manual_seed(0)
        backbone = MODELS.build(dict(type=name, arch=arch)).to(device).train()
        head = torch.nn.LazyLinear(10).to(device)
        x = torch.randn(4, 3, size, size, device=device)
        target = torch.randint(0, 10, (4, ), device=device)
        with torch.no_grad():
            head(backbone(x)[-1].mean((2, 3)))  # materialise the lazy head
        params = list(backbone.parameters()) + list(head.parameters())
        optim = torch.optim.SGD(params, lr=0.01)
        scaler = torch.amp.GradScaler(device.type, enabled=device.type == 'cuda')
        with torch.autocast(device.type, dtype=amp_dtype):
            logits = head(backbone(x)[-1].mean((2, 3)))
            loss = torch.nn.functional.cross_entropy(logits.float(), target)
        scaler.scale(loss).backward()
        scaler.unscale_(optim)
        grads = [p.grad for p in params if p.grad is not None]
        finite = math.isfinite(loss.item()) and all(torch.isfinite(g).all() for g in grads)
        scaler.step(optim)
        scaler.update()
        ok &= finite
        rows.append([f'{name} {arch}', str(amp_dtype).split('.')[-1], f'{loss.item():.3f}',
                     str(len(grads)), 'ok' if finite else 'FAIL: not finite'])
    lines.append(markdown(['backbone', 'autocast', 'loss', 'grads', 'check'], rows))
    return ok


def latency(model, x, runs, device):
    """Median seconds per call (the benchmarks' shared meter, CUDA-synced)."""
    from tools.analysis.benchmarking.meters import time_runs
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else None
    with torch.no_grad():
        return statistics.median(time_runs(lambda: model(x), max(3, runs // 5), runs,
                                           sync=sync))


def check_latency(device, lines, size, batch_sizes, runs):
    from mmpretrain.models.backbones import MobileNetV3
    lines.append(f'\n## Latency at {size}x{size} (median of {runs} runs, ms; ratio to '
                 f'MobileNetV3-small in the same run)\n')
    models = [('MobileNetV3', 'small', lambda: MobileNetV3('small')),
              ('MobileNetV3', 'large', lambda: MobileNetV3('large'))]
    models += [(name, arch, (lambda c=cls, a=arch: c(arch=a))) for name, arch, cls in backbones()]
    timings = {}
    for name, arch, make in models:
        model = make().to(device)
        model.eval()  # mmpretrain's MobileNetV3.eval() returns None: no chaining
        row = {}
        for b in batch_sizes:
            x = torch.randn(b, 3, size, size, device=device)
            row[b] = latency(model, x, runs, device)
            if hasattr(model, 'switch_to_deploy'):
                deployed = make().to(device)
                deployed.switch_to_deploy()
                row[f'{b}d'] = latency(deployed, x, runs, device)
        timings[(name, arch)] = row
        del model
    base = timings[('MobileNetV3', 'small')]
    head = ['backbone']
    for b in batch_sizes:
        head += [f'b{b} ms', f'b{b} deploy ms', f'b{b} vs MNv3-s']
    rows = []
    for (name, arch), row in timings.items():
        cells = [f'{name} {arch}']
        for b in batch_sizes:
            best = min(row[b], row.get(f'{b}d', row[b]))
            cells += [f'{row[b] * 1e3:.2f}',
                      f'{row[f"{b}d"] * 1e3:.2f}' if f'{b}d' in row else '-',
                      f'{best / base[b]:.2f}x']
        rows.append(cells)
    lines.append(markdown(head, rows))
    return True


def markdown(head, rows):
    from tools.analysis.benchmarking.report import markdown_table
    return markdown_table(head, rows) + '\n'


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: --device cuda but torch sees no GPU; run with --device cpu to '
                 'exercise the script on the CPU.')
    started = time.time()
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    lines = [f'# mmhad GPU check: {name}, torch {torch.__version__}\n']
    ok = check_ach(device, lines)
    ok &= check_amp_step(device, lines, size=64 if device.type == 'cpu' else args.size)
    check_latency(device, lines, args.size, args.batch_sizes, args.runs)
    lines.append(f'\ntotal {time.time() - started:.0f} s; checks '
                 f'{"passed" if ok else "FAILED"}\n')
    report = '\n'.join(lines)
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
