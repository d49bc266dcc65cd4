"""Checkpoint helpers shared by the official-checkpoint converters and the tools.

Every failure names the file and the problem (missing, truncated, wrong model) rather than
surfacing a pickle traceback.
"""
import os
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch

# Keys under which training scripts nest the weights (official EMO uses 'net',
# timm / EfficientMod 'model' or 'state_dict_ema', mmengine 'state_dict').
STATE_DICT_KEYS = ('state_dict', 'model', 'net', 'module', 'state_dict_ema', 'model_ema')


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the reason in words."""


def load_checkpoint_file(path: str) -> dict:
    """``torch.load`` a checkpoint on CPU with a clear error for missing/corrupt files."""
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path!r}. Check the path (or '
                              'download the official weights to it).')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'checkpoint {path!r} is empty (0 bytes): the download '
                              'or save was interrupted; fetch it again.')
    try:
        # weights_only=False: official checkpoints carry argparse Namespaces etc.; only
        # load checkpoints you trust, as with any pickle.
        return torch.load(path, map_location='cpu', weights_only=False)
    except Exception as exc:  # noqa: BLE001  (zip/pickle errors have many types)
        raise CheckpointError(
            f'checkpoint {path!r} ({os.path.getsize(path)} bytes) could not be read: '
            f'{type(exc).__name__}: {exc}. The file is probably truncated or not a '
            'PyTorch checkpoint; fetch it again.') from exc


def extract_state_dict(checkpoint) -> 'OrderedDict[str, torch.Tensor]':
    """Return the tensor dict of a checkpoint: flat, or nested under a known key."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'expected a dict checkpoint, got {type(checkpoint).__name__}')
    for key in STATE_DICT_KEYS:
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    state = OrderedDict((k, v) for k, v in checkpoint.items() if torch.is_tensor(v))
    if not state:
        raise CheckpointError(
            f'no tensors found in the checkpoint (top-level keys: {sorted(checkpoint)[:10]}); '
            f'expected a flat state dict or one under {STATE_DICT_KEYS}.')
    # DataParallel / DDP prefixes
    if all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return state


Rule = Tuple[str, str]


def rename_keys(state: Dict[str, torch.Tensor], rules: Sequence[Rule],
                source: str = 'official') -> 'OrderedDict[str, torch.Tensor]':
    """Rename every key with the first regex rule (pattern, replacement) that matches.

    A key no rule matches is an error: a silently dropped weight would be a wrong model.
    """
    compiled = [(re.compile(p), r) for p, r in rules]
    out, unmatched = OrderedDict(), []
    for key, value in state.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            unmatched.append(key)
    if unmatched:
        raise CheckpointError(
            f'{len(unmatched)} {source} keys have no mapping (is this a checkpoint of '
            f'another model?): {unmatched[:10]}')
    return out


def check_state_dict_matches(model: torch.nn.Module, state: Dict[str, torch.Tensor],
                             ignore: Optional[Iterable[str]] = None) -> None:
    """Raise a CheckpointError naming missing/unexpected keys and shape mismatches."""
    ignore = set(ignore or ())
    own = {k: v for k, v in model.state_dict().items() if k not in ignore}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own) - ignore)
    mismatched = sorted(f'{k}: checkpoint {tuple(state[k].shape)} vs model '
                        f'{tuple(own[k].shape)}'
                        for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f'missing keys ({len(missing)}): {missing[:10]}')
    if unexpected:
        problems.append(f'unexpected keys ({len(unexpected)}): {unexpected[:10]}')
    if mismatched:
        problems.append(f'shape mismatches ({len(mismatched)}): {mismatched[:10]}')
    if problems:
        raise CheckpointError(f'checkpoint does not fit {type(model).__name__} (wrong '
                              'arch or another model?):\n  ' + '\n  '.join(problems))


def convert_file(src: str, dst: str,
                 convert: Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]],
                 meta: Optional[dict] = None) -> Dict[str, torch.Tensor]:
    """Load ``src``, convert its state dict and save an mmengine-style checkpoint."""
    state = convert(extract_state_dict(load_checkpoint_file(src)))
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save({'state_dict': state, 'meta': dict(meta or {}, converted_from=src)}, dst)
    return state
