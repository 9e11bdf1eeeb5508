"""A plain-text progress bar on stderr (no dependency).

On a terminal the bar is redrawn in place; in a log (not a terminal) a line
is written at most every 10 % so the log stays short.
"""
import sys
import time


class ProgressBar:
    width = 30

    def __init__(self, total, label='', stream=None, enabled=True):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self._drawn_at = 0
        self._last_decile = -1
        self._tty = getattr(self.stream, 'isatty', lambda: False)()

    def start(self):
        "Restart the clock: the rate counts from here."
        self.started = time.monotonic()
        self._draw()

    def update(self, count):
        self.done = min(self.done + count, self.total)
        self._draw()

    def _line(self):
        fraction = self.done / self.total if self.total else 1
        filled = int(self.width * fraction)
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0
        bar = '#' * filled + '.' * (self.width - filled)
        return (f'{self.label} [{bar}] {self.done}/{self.total} '
            f'{fraction:4.0%} {rate:,.0f} rows/s')

    def _draw(self, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if self._tty:
            if final or now - self._drawn_at >= 0.1:
                self.stream.write('\r' + self._line())
                self._drawn_at = now
        else:
            decile = int(10 * self.done / self.total) if self.total else 10
            if decile != self._last_decile or final:
                if not (final and decile == self._last_decile):
                    self.stream.write(self._line() + '\n')
                self._last_decile = decile
        self.stream.flush()

    def close(self):
        self._draw(final=True)
        if self.enabled and self._tty:
            self.stream.write('\n')
            self.stream.flush()
