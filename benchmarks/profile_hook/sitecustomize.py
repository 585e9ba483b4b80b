"""Profile a Python process with cProfile when HITL_BENCHMARK_PROFILE_DIR is set.

The throughput benchmark puts this folder on the local stack's function workers' PYTHONPATH;
Python imports `sitecustomize` at start-up, so each worker runs unchanged. A worker writes its
pid to `<dir>/<function>.pid`, starts profiling on SIGUSR1 (so start-up and warm-up can be left
out) and writes its statistics to `<dir>/<function>.prof` when it exits.
"""

import atexit
import cProfile
import os
import signal
import sys

PROFILE_DIR_VARIABLE = "HITL_BENCHMARK_PROFILE_DIR"
START_SIGNAL = signal.SIGUSR1
_directory = os.environ.get(PROFILE_DIR_VARIABLE)

if _directory:
    _name = sys.argv[1] if len(sys.argv) > 1 else str(os.getpid())
    _profiler = cProfile.Profile()

    def _start(_signal: int, _frame: object) -> None:
        _profiler.enable()

    def _dump() -> None:
        _profiler.disable()
        _profiler.dump_stats(os.path.join(_directory, f"{_name}.prof"))

    signal.signal(START_SIGNAL, _start)
    atexit.register(_dump)
    with open(os.path.join(_directory, f"{_name}.pid"), "w") as pid_file:
        pid_file.write(str(os.getpid()))
