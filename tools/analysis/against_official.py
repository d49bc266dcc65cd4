"""Time mmhad's deploy-form classifiers against the official EMO / EfficientMod code.

The official code is **not** part of this repository and is never imported from it: you
point this tool at your own checkout of it (``--official-root``). Per arch, the official
1000-class model is built by its own factory, its weights perturbed by seeded noise (so
that layer scales and BatchNorm statistics are not at their trivial initial values),
converted with mmhad's converter (``mmhad.utils.converters``), loaded ``strict=True`` into
the mmpretrain classifier of ``configs/<family>/<arch>_*_in1k.py`` and switched to the
deploy form (:func:`mmhad.models.switch_to_deploy`). The two must give the same logits
(``--rtol``, relative to the largest official logit) before anything is timed.

Both models then run in this one process, in interleaved rounds (the paired benchmark's
:func:`~tools.analysis.benchmarking.paired.interleaved_rounds`: ``--calls`` calls of each
per round, medians, the order reversed every other round), and the table gives, per case,
the median of the per-round ratios ``mmhad / official`` with their interquartile range,
and how many cases are within ``--target``::

    # the official sources, outside this repository, and their own dependencies
    git clone <EMO repository> ~/src/EMO; git clone <EfficientMod repository> ~/src/EfficientMod
    python -m pip install --target ~/src/offsite --no-deps timm==0.6.13 einops

    PYTHONPATH=~/src/offsite python tools/analysis/against_official.py \\
        --family efficientmod --official-root ~/src/EfficientMod \\
        --archs xxs xs s s_conv --sizes 224 512 --batch-sizes 1 8 --threads 2

What is loaded from ``--official-root``: EfficientMod's ``models/EfficientMod.py``; EMO's
``model/emo.py`` and ``model/basic_modules.py`` as the package ``model``, whose own
``__init__`` (it imports the whole training framework) is replaced by the one thing the
two files take from it, the registry ``MODEL`` their factories are decorated with.
"""
import argparse
import importlib.util
import json
import math
import os.path as osp
import statistics
import sys
import types

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)  # run as a script from anywhere: `tools` is importable

from tools.analysis.benchmarking.meters import steady_heap  # noqa: E402
from tools.analysis.benchmarking.paired import (interleaved_rounds,  # noqa: E402
                                                 ratio_stats)
from tools.analysis.benchmarking.report import cpu_name, markdown_table  # noqa: E402

# family: (official file(s) under --official-root, factory name per arch, mmhad config,
# the official forward's logits from its output)
FAMILIES = {
    'emo': dict(
        files=('model/emo.py', 'model/basic_modules.py'),
        factories={a: f'EMO_{a.upper()}' for a in ('1m', '2m', '5m', '6m')},
        config='configs/emo/emo-{arch}_8xb256-300e_in1k.py',
        logits=lambda out: out['out']),
    'efficientmod': dict(
        files=('models/EfficientMod.py',),
        factories={'xxs': 'efficientMod_xxs', 'xs': 'efficientMod_xs',
                   's': 'efficientMod_s', 's_conv': 'efficientMod_s_Conv'},
        config='configs/efficientmod/efficientmod-{arch}_8xb256-310e_in1k.py',
        logits=lambda out: out),
}
OFFSITE_HINT = ('the official code imports its own dependencies (timm, and einops for '
                'EMO): install them outside this environment, e.g. `python -m pip install '
                '--target DIR --no-deps timm==0.6.13 einops`, and put DIR on PYTHONPATH')


class OfficialCodeError(RuntimeError):
    """The official code could not be found, imported or matched."""


class _Registry:
    """What EMO's factories are decorated with (``@MODEL.register_module``)."""

    def __init__(self):
        self.factories = {}

    def register_module(self, fn):
        self.factories[fn.__name__] = fn
        return fn


def _import_file(name, path):
    """Execute ``path`` as module ``name``; a missing dependency of the official code
    becomes an :class:`OfficialCodeError` that says how to install it."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules[name]
        raise OfficialCodeError(f'importing the official {path!r} failed ({exc}); '
                                f'{OFFSITE_HINT}.') from None
    except Exception as exc:  # noqa: BLE001  (another version of it, or of timm)
        del sys.modules[name]
        raise OfficialCodeError(
            f'importing the official {path!r} failed ({type(exc).__name__}: {exc}); the '
            'tool was written against zhangzjn/EMO 27d9b40 and ma-xu/EfficientMod ec04df6 '
            'with timm 0.6.13.') from None
    package, _, leaf = name.rpartition('.')
    if package in sys.modules:  # `import model.emo` then `model.emo.X` works too
        setattr(sys.modules[package], leaf, module)
    return module


def load_official_module(family, root):
    """The official module holding ``family``'s factories, loaded from ``root``."""
    missing = [f for f in FAMILIES[family]['files'] if not osp.isfile(osp.join(root, f))]
    if missing:
        raise OfficialCodeError(
            f'--official-root {root!r} has no {", ".join(missing)}: give the root of a '
            f'checkout of the official {family} repository.')
    if family == 'efficientmod':
        return _import_file('_official_efficientmod', osp.join(root, 'models',
                                                               'EfficientMod.py'))
    # EMO: `model` as a bare package over the official folder, with only the registry
    package = types.ModuleType('model')
    package.__path__ = [osp.join(root, 'model')]
    package.MODEL = _Registry()

    def in_package(key):
        return key == 'model' or key.startswith('model.')

    # only while the two files import: another `model` package (the user's) is put back
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if in_package(k)}
    sys.modules['model'] = package
    try:
        _import_file('model.basic_modules', osp.join(root, 'model', 'basic_modules.py'))
        return _import_file('model.emo', osp.join(root, 'model', 'emo.py'))
    finally:
        for key in [k for k in sys.modules if in_package(k)]:
            del sys.modules[key]
        sys.modules.update(saved)


@torch.no_grad()
def perturb_(model, seed, scale=0.02):
    """Seeded ``N(0, scale^2)`` noise on every parameter; BatchNorm running means
    ``U(-0.1, 0.1)`` and variances ``U(0.5, 1.5)`` (an untrained model's are 0 and 1)."""
    gen = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        param.add_(scale * torch.randn(param.shape, generator=gen))
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(
                0.2 * torch.rand(module.running_mean.shape, generator=gen) - 0.1)
            module.running_var.copy_(
                0.5 + torch.rand(module.running_var.shape, generator=gen))
    return model


def build_pair(family, arch, official_module, seed=0, rtol=1e-4, check_sizes=(224,)):
    """``(official, mmhad, error)``: the official eval-mode classifier (weights
    perturbed, :func:`perturb_`), mmhad's deploy-form classifier with the converted
    weights, and their largest logit difference relative to the largest official logit
    on seeded ``2 x 3 x S x S`` inputs, ``S`` each of ``check_sizes`` (the sizes to be
    timed: EMO pads its windows at some); raises :class:`OfficialCodeError` above
    ``rtol``."""
    from mmhad.models import switch_to_deploy
    from mmhad.utils.config_model import build_model, load_model_config
    from mmhad.utils.converters.efficientmod import convert_efficientmod
    from mmhad.utils.converters.emo import convert_emo
    spec = FAMILIES[family]
    factory = getattr(official_module, spec['factories'][arch], None)
    if factory is None:
        raise OfficialCodeError(f'the official {family} code has no factory '
                                f'{spec["factories"][arch]!r} (arch {arch!r}).')
    torch.manual_seed(seed)
    official = perturb_(factory().eval(), seed)
    convert = convert_emo if family == 'emo' else convert_efficientmod
    ours = build_model(load_model_config(osp.join(REPO, spec['config'].format(
        arch=arch.replace('_', '-')))))
    ours.load_state_dict(convert(official.state_dict()), strict=True)
    switch_to_deploy(ours)
    errors = []
    for size in check_sizes:
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
        with torch.inference_mode():
            expected = spec['logits'](official(x))
            got = ours(x, mode='tensor')
        error = ((got - expected).abs().max() / expected.abs().max()).item()
        if not math.isfinite(error) or error > rtol:
            raise OfficialCodeError(
                f'{family}-{arch}: mmhad\'s deploy form differs from the official model '
                f'by {error:.3g} at {size}x{size} (relative to the largest logit; allowed '
                f'{rtol:g}): not the same function, so its time is not comparable (a '
                'changed official file, or a converter / deploy bug: tests/models/'
                'backbones/ has the parity tests).')
        errors.append(error)
    return official, ours, max(errors)


def time_pair(family, official, ours, sizes, batch_sizes, rounds, calls, warmup=2):
    """``{(size, batch): dict(ratio_stats, official_ms, mmhad_ms)}``: both models in
    :func:`interleaved_rounds` on a seeded input of every size and batch size."""
    to_logits = FAMILIES[family]['logits']
    cases = {}
    with torch.inference_mode():
        for size in sizes:
            for batch in batch_sizes:
                x = torch.randn(batch, 3, size, size,
                                generator=torch.Generator().manual_seed(size + batch))
                per_round = interleaved_rounds(
                    {'official': lambda: to_logits(official(x)),
                     'mmhad': lambda: ours(x, mode='tensor')},
                    rounds, calls, warmup=warmup)
                stats = ratio_stats(per_round['mmhad'], per_round['official'])
                stats.update(official_ms=1e3 * statistics.median(per_round['official']),
                             mmhad_ms=1e3 * statistics.median(per_round['mmhad']))
                cases[(size, batch)] = stats
    return cases


def report(family, results, sizes, batch_sizes, target, header):
    """The markdown report: one row per arch, one column per (size, batch)."""
    columns = [(s, b) for s in sizes for b in batch_sizes]
    rows, within, total = [], 0, 0
    for arch, res in results.items():
        cells = []
        for key in columns:
            st = res['cases'][key]
            within += st['median'] <= target
            total += 1
            cells.append(f"{st['median']:.2f} ({st['q1']:.2f}-{st['q3']:.2f}); "
                         f"{st['mmhad_ms']:.1f} / {st['official_ms']:.1f} ms")
        rows.append([f'{family}-{arch} (err {res["error"]:.1e})'] + cells)
    table = markdown_table(['mmhad deploy / official'] +
                           [f'{s}x{s} b{b}' for s, b in columns], rows)
    return '\n'.join(header + ['', table, '',
                               f'{within} of {total} cases within {target:g}x (median '
                               'of the per-round ratios; q1-q3 in brackets; median '
                               'round times, mmhad / official).'])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--family', required=True, choices=sorted(FAMILIES))
    parser.add_argument('--official-root', required=True,
                        help='root of a checkout of the official repository')
    parser.add_argument('--archs', nargs='+', help='default: every arch of the family')
    parser.add_argument('--sizes', nargs='+', type=int, default=[224, 512])
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 8])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--calls', type=int, default=5, help='calls per model per round')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch\'s own)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest logit difference allowed, relative')
    parser.add_argument('--target', type=float, default=0.8,
                        help='the ratio a case must not exceed to count as within')
    parser.add_argument('--steady-heap', action='store_true',
                        help='keep freed memory in the heap (glibc), as in a warm '
                             'long-running process: no fresh pages faulted in per forward')
    parser.add_argument('--out', help='also write every case\'s ratio statistics and '
                                      'median times here (JSON)')
    args = parser.parse_args(argv)
    archs = list(FAMILIES[args.family]['factories'])
    args.archs = args.archs or archs
    unknown = sorted(set(args.archs) - set(archs))
    if unknown:
        parser.error(f'--archs: unknown {args.family} arch(s) {unknown}; choose from '
                     f'{archs}.')
    for name in ('sizes', 'batch_sizes', 'rounds', 'calls', 'threads'):
        values = getattr(args, name)
        if values is not None and min(values if isinstance(values, list) else
                                      [values]) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {values}.')
    for name in ('rtol', 'target'):
        if not getattr(args, name) > 0:
            parser.error(f'--{name} must be > 0, got {getattr(args, name)}.')
    if args.out and not osp.isdir(osp.dirname(osp.abspath(args.out))):
        parser.error(f'--out {args.out!r}: its folder does not exist (checked before '
                     'the run, so that no timing is lost).')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steady_heap and not steady_heap():
        sys.exit('error: --steady-heap needs glibc\'s mallopt(), which is missing here or '
                 'refused the settings; run without it.')
    header = [f'{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} '
              f'threads; {args.rounds} rounds x {args.calls} calls per case, float32, '
              f'torch.inference_mode(){"; steady heap" if args.steady_heap else ""}; '
              f'official code from {args.official_root}']
    results, failure = {}, None
    try:
        module = load_official_module(args.family, osp.abspath(
            osp.expanduser(args.official_root)))
        for arch in args.archs:
            official, ours, error = build_pair(args.family, arch, module, args.seed,
                                               args.rtol, args.sizes)
            cases = time_pair(args.family, official, ours, args.sizes, args.batch_sizes,
                              args.rounds, args.calls)
            results[arch] = dict(error=error, cases=cases)
            print(f'{args.family}-{arch}: done (logits equal to {error:.1e})',
                  file=sys.stderr)
    except OfficialCodeError as exc:
        failure = f'error: {exc}'
    if results:  # what was timed before a failure is kept
        print(report(args.family, results, args.sizes, args.batch_sizes, args.target,
                     header))
    if results and args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(family=args.family, header=header, target=args.target,
                           results={a: dict(error=r['error'], cases={
                               f'{s}x{s}/b{b}': st for (s, b), st in r['cases'].items()})
                               for a, r in results.items()}), f, indent=1)
    if failure:
        sys.exit(failure)
    return results


if __name__ == '__main__':
    main()
