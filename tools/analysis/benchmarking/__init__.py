"""The CPU benchmark of tools/analysis/benchmark.py, as an importable package.

* ``meters``  -- timing (``time_runs``) and peak-memory (``PeakMemory``) measurement;
* ``inputs``  -- synthetic batches for mmdet / mmseg / mmpretrain models;
* ``runners`` -- the backbone and whole-config workers, one fresh process each;
* ``paired``  -- a model and the baseline in one process, interleaved rounds (``--paired``);
* ``report``  -- the markdown tables and the latency plot;
* ``zoo``     -- the backbones compared and ``--models`` selection.

Scripts in tools/analysis/ import it after putting the repository root on ``sys.path``::

    from tools.analysis.benchmarking.meters import PeakMemory, time_runs
"""
