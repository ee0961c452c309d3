"""A text progress bar for the command line, written to standard error."""

import sys
import time


class ProgressBar:
    """Redraw `label [#####     ] done/total` in place, at most 10 times a second.

    Nothing is drawn when the stream is not a terminal except the final
    line, so logs and CI output stay short.
    """

    WIDTH = 30

    def __init__(self, total: float, label: str = "", stream=None,
                 unit: str = ""):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self._last_draw = 0.0

    def update(self, done: float) -> None:
        now = time.monotonic()
        if done < self.total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        if not self.stream.isatty() and done < self.total:
            return
        filled = int(self.WIDTH * min(done / self.total, 1)) if self.total else 0
        bar = "#" * filled + " " * (self.WIDTH - filled)
        end = "\n" if done >= self.total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done:,.0f}/{self.total:,.0f}"
                          f"{self.unit}{end}")
        self.stream.flush()
