"""Faults the local stack can inject, so benchmarks and tests see what AWS does under load."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class ThrottleFault:
    """Fault injection: answer this fraction of invocations (at random, seeded) with throttling.

    The error is the one botocore retries as throttling (`ThrottlingException`, HTTP 400), as a
    real endpoint's service answers when its invocation rate is over the limit. `throttled`
    counts the calls refused.
    """

    fraction: float = 0.0
    seed: int = 14
    throttled: int = 0
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"the throttled fraction must lie in 0..1, got {self.fraction}")
        self._random = random.Random(self.seed)

    def strikes(self) -> bool:
        """Whether this call is throttled."""
        with self._lock:
            hit = self._random.random() < self.fraction
            self.throttled += hit
            return hit
