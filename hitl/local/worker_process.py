"""A function's worker as a child process with the function's own environment, supervised.

The child's stdout (the handler's Powertools logs and metrics) goes to a log file; its stderr
(one progress line per batch, and any traceback) goes to the log file and, once the worker is
ready, to `on_line`; what it printed before is part of the WorkerStartError.
Closing the child's stdin asks it to stop; it also stops by itself when this process dies.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


class WorkerStartError(RuntimeError):
    """The worker process exited or stayed silent before it was ready; the message holds its output."""


class WorkerProcess:
    """`python -m MODULE FUNCTION ARGUMENTS...` (by default the queue worker, whose arguments are
    QUEUE_URL QUEUE_ARN), started in its own session so a Ctrl-C reaches only the stack, which
    then stops its workers in order. `pass_fds` are handed down open (a socket bound for it)."""

    def __init__(
        self,
        function: str,
        arguments: Sequence[str],
        environment: Mapping[str, str],
        log_path: Path,
        on_line: Callable[[str], None],
        *,
        module: str = "hitl.local.worker",
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.function = function
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self._on_line = on_line
        self._ready = threading.Event()
        self._recent: deque[str] = deque(maxlen=40)
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, function, *arguments],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.PIPE,
            env=dict(environment),
            text=True,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        self._relay = threading.Thread(target=self._relay_stderr, name=f"{function}-stderr", daemon=True)
        self._relay.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def _relay_stderr(self) -> None:
        assert self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.rstrip("\n")
            self._recent.append(line)
            self._log.write(line + "\n")
            self._log.flush()
            if self._ready.is_set():
                self._on_line(line)
            elif line == f"[{self.function}] ready":
                self._ready.set()

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Block until the handler module is imported and the worker polls its queue."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._relay.join(timeout=2)
                output = "\n".join(self._recent)
                raise WorkerStartError(
                    f"the {self.function} worker did not start (exit code {self._process.poll()}); "
                    f"log {self.log_path}:\n{output}"
                )

    def kill(self) -> None:
        """End the worker at once (SIGKILL): no batch is finished, nothing is deleted from its queue."""
        self._process.kill()
        self._process.wait()
        self._relay.join(timeout=5)
        self._log.close()

    def ask_to_stop(self) -> None:
        """Ask the worker to finish its batch and exit, without waiting (`stop` waits)."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()

    def stop(self) -> None:
        """Ask the worker to finish its batch and exit; terminate it if it does not."""
        if self._process.poll() is None:
            try:
                self.ask_to_stop()
                self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        self._relay.join(timeout=5)
        self._log.close()
