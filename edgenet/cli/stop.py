"""Signals that end `edgenet run` cleanly: Ctrl-C (SIGINT), ``systemctl stop`` (SIGTERM), a closed
terminal or ssh session (SIGHUP).

Python's defaults would lose the run: SIGTERM and SIGHUP kill the process before the recorder writes
its index (an .mp4 no player opens) and SIGINT unwinds past the summary. Here each one only asks the
loop to stop; the loop ends after the frame in hand, closes the recording, and the verb prints and
writes its summary. A second Ctrl-C interrupts at once (a stuck camera must not hold the terminal).
Process-wide state, so it lives in the CLI, never in the library: the loop only reads an Event.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class StopOnSignals:
    """``with StopOnSignals() as stop:`` pass ``stop.event`` to the loop; ``stop.signal`` is the name of
    the signal that ended it (or None), ``stop.exit_code`` what the verb returns."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C
        if self.signal is None:
            self.signal = signal.Signals(signum).name
        self.event.set()  # nothing else here: a handler that prints can interrupt a print of the loop's

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C (the shell's convention: 128 + SIGINT), else 0: a stop asked for is a clean end."""
        return 130 if self.signal == "SIGINT" else 0

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():  # signal.signal works there only
            for name in STOP_SIGNALS:
                number = getattr(signal, name, None)
                if number is not None:
                    self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()
