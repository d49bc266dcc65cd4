"""Runtime fixes that make mmengine 0.10 / mmdet 3.3 work on torch >= 2.6.

Each fix is explicit, idempotent, covered by a test, and becomes a no-op when upstream
fixes the problem.
"""
import torch

_PATCHED = {'checkpoint_loader': False}


def _load_local_checkpoint(filename, map_location=None):
    """mmengine's local-file loader, with ``weights_only=False`` said explicitly.

    torch >= 2.6 changed ``torch.load``'s default to ``weights_only=True``; mmengine
    0.10.7 calls it without the argument, so resuming a Runner checkpoint (which pickles a
    ``HistoryBuffer`` in ``message_hub`` and numpy arrays) fails with an UnpicklingError.
    Runner checkpoints are written by the user's own training, which mmengine trusted
    before torch 2.6; keep that contract rather than asking for an environment variable.
    """
    import os.path as osp

    from mmhad.utils.checkpoint import CheckpointError, load_checkpoint_file
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return load_checkpoint_file(filename) if map_location in (None, 'cpu') else \
            torch.load(filename, map_location=map_location, weights_only=False)
    except CheckpointError as exc:  # keep mmengine's exception type, clearer text
        raise RuntimeError(str(exc)) from exc


def patch_mmengine_checkpoint_loader():
    """Register :func:`_load_local_checkpoint` for local paths in mmengine.

    Only needed when the default changed (torch >= 2.6); mmengine's own loaders for
    ``http://``, ``s3://`` etc. are untouched.
    """
    if _PATCHED['checkpoint_loader']:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    from mmengine.utils import digit_version
    if digit_version(torch.__version__.split('+')[0]) >= digit_version('2.6.0'):
        CheckpointLoader.register_scheme(prefixes='', force=True)(_load_local_checkpoint)
    _PATCHED['checkpoint_loader'] = True


def apply_runtime_patches():
    patch_mmengine_checkpoint_loader()
