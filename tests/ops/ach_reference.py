"""Reference formulations the cross-Hadamard tests compare :func:`mmhad.ops.cross_hadamard`
with. They are the peers of ``tools/analysis/benchmark_ach.py`` (what the official code
computes) and live once, in ``tools/analysis/ach_peers.py``; this module is the tests'
single import point for them."""
from tools.analysis.ach_peers import (cross_hadamard_onehot_reference,  # noqa: F401
                                      cross_hadamard_reference, onehot_selection_weight)

__all__ = ['cross_hadamard_reference', 'cross_hadamard_onehot_reference',
           'onehot_selection_weight']
