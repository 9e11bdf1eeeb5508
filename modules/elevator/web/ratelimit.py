"""Rate limits for the platform's HTTP routes (public API, H5, push API).

`RateLimiter` counts hits per key (a client address, an elevator, ...) in
fixed windows, in the memory of the server process: cheap enough for every
request (no database), bounded in memory, thread-safe. Under a server with
several worker processes each process counts on its own, so a client can
get up to `workers` times the limit; limits that must hold exactly across
processes (submissions stored in the database) are checked again against
the stored records by the routes that write them.

    limiter = RateLimiter(limit=60, window=60)
    allowed, retry_after = limiter.hit(('addr', address))
"""
import threading
import time
from collections import OrderedDict


class RateLimiter:

    def __init__(self, limit, window, max_keys=100_000, clock=time.monotonic):
        if limit < 0 or window <= 0:
            raise ValueError("limit must be >= 0 and window > 0")
        self.limit = int(limit)
        self.window = float(window)
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [window start, count], oldest first
        self._counts = OrderedDict()

    def hit(self, key, cost=1):
        """Count a hit for key; return (allowed, seconds to wait).
        A refused hit is not counted."""
        now = self._clock()
        with self._lock:
            entry = self._counts.get(key)
            if entry is None or now - entry[0] >= self.window:
                entry = [now, 0]
                self._counts[key] = entry
            self._counts.move_to_end(key)
            if entry[1] + cost > self.limit:
                return False, max(1, int(entry[0] + self.window - now + 0.999))
            entry[1] += cost
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
            return True, 0

    def remaining(self, key):
        now = self._clock()
        with self._lock:
            entry = self._counts.get(key)
            if entry is None or now - entry[0] >= self.window:
                return self.limit
            return max(0, self.limit - entry[1])

    def reset(self):
        with self._lock:
            self._counts.clear()


class RateLimits:
    """Several named limiters, e.g. reads and writes per address and per
    elevator, built from {name: (limit, window seconds)}."""

    def __init__(self, spec):
        self.spec = dict(spec)
        self.limiters = {name: RateLimiter(limit, window)
            for name, (limit, window) in self.spec.items()}

    def check(self, *hits):
        """hits: (limiter name, key) pairs, all counted; return (allowed,
        retry after) of the first refusal, or (True, 0)."""
        for name, key in hits:
            allowed, retry_after = self.limiters[name].hit(key)
            if not allowed:
                return False, retry_after
        return True, 0

    def reset(self):
        for limiter in self.limiters.values():
            limiter.reset()
