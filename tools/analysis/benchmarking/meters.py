"""Timing and memory measurement, shared by the benchmarks in tools/analysis/.

* :func:`time_runs` -- wall time per call of a function (warm-up, then timed calls);
* :class:`PeakMemory` -- peak growth of the process's resident memory over a section
  (and the process's whole peak resident memory during it);
* :func:`env_info` -- torch version, intra-op threads and Python version of a run.
"""
import platform
import time


def _proc_status_kib(key):
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# glibc's mallopt() parameters; a threshold of 1 GiB is what glibc 2.36 takes, older ones
# cap it at 32 MiB (HEAP_MAX_SIZE / 2 on 64-bit) and refuse more
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLDS = (2 ** 30, 32 * 2 ** 20)


def _libc_function(name):
    """glibc's ``name`` through ctypes, or ``None`` where there is no glibc."""
    try:
        import ctypes
        return getattr(ctypes.CDLL('libc.so.6'), name)
    except (OSError, AttributeError):
        return None


def steady_heap():
    """Make glibc's malloc keep what is freed in the heap, as a long-running process's
    heap is once warm: blocks up to 1 GiB (32 MiB on older glibc) come from the heap
    instead of fresh ``mmap`` pages, and the heap's top is not handed back to the kernel.
    Every forward then reuses pages already mapped instead of faulting fresh ones in
    (what a tensor's first touch costs otherwise). For this process, from now on;
    ``False`` where there is no glibc or it refuses the mmap threshold (nothing
    changed)."""
    mallopt = _libc_function('mallopt')
    if mallopt is None or not any(mallopt(M_MMAP_THRESHOLD, t) for t in MMAP_THRESHOLDS):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))


class PeakMemory:
    """Peak RSS growth of this process over a code section, in bytes.

    Linux: reset the high-water mark (``echo 5 > /proc/self/clear_refs``), give freed
    heap pages back (``malloc_trim(0)``), then ``VmHWM`` after - ``VmRSS`` before.
    Elsewhere: ``ru_maxrss`` after - before (only correct when the section sets a new
    peak for the process, which is why every model runs in a fresh process).

    After the section, ``peak`` is that growth and ``peak_rss`` the whole process's
    peak resident memory during the section (interpreter, libraries, weights and inputs
    included: ``VmHWM``, or the process-lifetime ``ru_maxrss`` elsewhere), both in bytes.
    """

    def __init__(self):
        self.method = 'VmHWM-VmRSS'
        self._trim = _libc_function('malloc_trim')
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            if _proc_status_kib('VmHWM') is None:
                raise OSError
        except OSError:
            self.method = 'ru_maxrss'

    def __enter__(self):
        import gc
        gc.collect()
        if self._trim is not None:
            self._trim(0)
        if self.method == 'VmHWM-VmRSS':
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self._start = _proc_status_kib('VmRSS') * 1024
        else:
            import resource
            self._start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = self.peak_rss = None
        return self

    def __exit__(self, *exc):
        if self.method == 'VmHWM-VmRSS':
            end = _proc_status_kib('VmHWM') * 1024
        else:
            import resource
            end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = max(0, end - self._start)
        self.peak_rss = end
        return False


def time_runs(fn, warmup, repeat, max_seconds=float('inf'), sync=None,
              min_seconds=0.0):
    """Seconds per call: ``warmup`` untimed calls, then at least ``repeat`` timed calls.

    Warm-up stops after one call when a call takes more than ``max_seconds / 10``; the
    timed loop stops early once ``max_seconds`` have passed and at least
    ``min(3, repeat)`` calls are timed, and goes on past ``repeat`` calls until
    ``min_seconds`` have passed. ``sync`` (e.g. ``torch.cuda.synchronize``) is called
    after every call, inside the timed section, so that asynchronous work is counted.
    The median of the result is a latency; its minimum, the best of runs, is steadier on
    a shared machine.
    """
    def call():
        fn()
        if sync is not None:
            sync()

    for _ in range(warmup):
        t0 = time.perf_counter()
        call()
        if time.perf_counter() - t0 > max_seconds / 10:
            break
    times = []
    start = time.perf_counter()
    while len(times) < max(1, repeat) or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > max_seconds and len(times) >= min(3, repeat):
            break
    return times


def env_info(torch):
    """What a timing depends on besides the hardware."""
    return dict(torch=torch.__version__, threads=torch.get_num_threads(),
                python=platform.python_version())
