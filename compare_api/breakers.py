"""Circuit breakers: after a service fails, requests stop waiting on it until it answers again.

Without one, every request during an outage pays the full timeout (a database
connect timeout of 3 s, a Redis socket timeout of 0.25 s): workers pile up behind
the waits and requests that never needed the service queue behind them. Here the
first failure opens the breaker; while it is open, callers fail at once (the
database) or skip the service (Redis: limits fail open, reads are built fresh).
Whether the service is back is found out by a probe in a background thread,
every `interval`, so no request ever pays a timeout to find out: the breaker
closes when a probe succeeds and no failure happened while it ran.

The state is per process: each gunicorn worker pays one timeout per outage,
then stops waiting. Nothing is shared, so a breaker itself has nothing to fail.
"""

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, name: str, *, interval: float) -> None:
        self.name = name
        self.interval = interval
        self._open = False
        self._failed_at = 0.0
        self._probe: Callable[[], object] | None = None
        self._prober: threading.Thread | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        return not self._open

    def failed(self, probe: Callable[[], object]) -> None:
        """The service just failed: open, and let `probe` (which raises while it is still down) find when it is back."""
        with self._lock:
            self._open = True
            self._failed_at = time.monotonic()
            self._probe = probe
            if self._prober is None:
                self._prober = threading.Thread(target=self._probe_until_closed, name=f"{self.name}-probe", daemon=True)
                self._prober.start()

    def reset(self) -> None:
        """Closed, as at start-up (tests); a running probe ends at its next turn."""
        with self._lock:
            self._open = False
            self._failed_at = time.monotonic()

    def _probe_until_closed(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                if not self._open:
                    self._prober = None
                    return
                probe = self._probe
            started = time.monotonic()
            try:
                probe()
            except Exception:  # still down: the next turn tries again
                continue
            with self._lock:
                if self._failed_at < started:  # nothing failed while the probe ran
                    self._open = False
                    self._prober = None
                    return


class Cooldown:
    """Per key, a few seconds of "don't even try" after a failure (e.g. votes on a tool whose row is locked)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def remaining(self, key: str) -> float:
        """Seconds left of `key`'s cooldown; 0 when there is none (one dict lookup on the hot path)."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            self._until.pop(key, None)
            return 0.0
        return left

    def start(self, key: str, seconds: float) -> None:
        self._until[key] = time.monotonic() + seconds

    def clear(self) -> None:
        self._until.clear()
