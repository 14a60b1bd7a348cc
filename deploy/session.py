"""Talking to the board command (``python3 -m edgenet.cli.release``) over one ssh channel.

``board_command`` builds its argv (run from a wheel on the board with the board's system python3,
from ``/``, every element quoted by ``Remote``). ``BoardSession`` runs ``install --interactive``:
JSON events come back on stdout, the board's progress lines on stderr (passed to ``log``), and our
words (the manifest, ``uploaded``, ``commit``) go on stdin. Closing stdin is the abort: the board
command removes what it wrote and exits 130, and ``current`` never moved.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Callable

from deploy.errors import ConnectError, DeployError, Interrupted

BOARD_MODULE = "edgenet.cli.release"
POLL_S = 0.2
ABORT_WAIT_S = 60.0  # the board kills pip or the smoke test, then removes the release folder


def board_command(python: str, wheel: str, action: str, *args: str) -> list[str]:
    """argv of the board command, run from ``wheel`` (a path on the board) by ``python``."""
    return ["env", f"PYTHONPATH={wheel}", python, "-s", "-m", BOARD_MODULE, action, *args]


def final_line(stdout: str) -> dict:
    """The board command's last JSON line (its result); DeployError if there is none."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "changed" in data:
            return data
    tail = " | ".join(stdout.strip().splitlines()[-2:])
    raise DeployError(f"the board command printed no result{': ' + tail if tail else ''}")


class BoardSession:
    def __init__(self, remote, argv: list[str], log: Callable[[str], None] = lambda m: None):
        self.remote, self.log = remote, log
        self.host = remote.spec.alias
        self.events: queue.Queue = queue.Queue()
        self.result: dict | None = None
        self.channel = remote.open_channel(argv, cwd="/")
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        try:
            for raw in self.channel.makefile("rb"):
                line = raw.decode("utf-8", "replace").strip()
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict) and "event" in data:
                    self.events.put(data)
                elif isinstance(data, dict) and "changed" in data:
                    self.result = data
        except (OSError, EOFError):
            pass
        self.events.put(None)

    def _read_stderr(self) -> None:
        try:
            for raw in self.channel.makefile_stderr("rb"):
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.log(f"{self.host}: {line.removeprefix('edgenet-release: ')}")
        except (OSError, EOFError):
            pass

    def send(self, line: str) -> None:
        try:
            self.channel.sendall((line + "\n").encode())
        except (OSError, EOFError) as exc:
            raise ConnectError(f"{self.host}: lost the board command: {exc or type(exc).__name__}") from None

    def wait(self, kind: str, cancel: threading.Event | None = None,
             on_event: Callable[[dict], None] = lambda e: None) -> dict:
        """The next ``kind`` event (others go to ``on_event``). Raises Interrupted when ``cancel`` is set,
        and the board's own error when it finished without sending ``kind``."""
        while True:
            if cancel is not None and cancel.is_set():
                raise Interrupted(f"{self.host}: interrupted")
            try:
                event = self.events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if event is None:
                self.events.put(None)  # stays ended for later waits
                self._raise_result()
            if event["event"] == kind:
                return event
            on_event(event)

    def _raise_result(self) -> None:
        for t in self._threads:
            t.join(timeout=5)
        code = self.channel.recv_exit_status()
        if self.result is None:
            raise DeployError(f"{self.host}: the board command ended (exit {code}) without a result")
        if self.result.get("failed"):
            raise DeployError(f"{self.host}: {self.result.get('msg')}; the previous release is still current")
        raise DeployError(f"{self.host}: the board command ended early (exit {code})")

    def finish(self) -> dict:
        """Wait for the board's result (DeployError if it failed). Our side stays open until then: the
        board command reads its end as an abort until it has read ``commit``."""
        for t in self._threads:
            t.join()
        code = self.channel.recv_exit_status()
        self.channel.close()
        if self.result is None or self.result.get("failed") or code != 0:
            msg = (self.result or {}).get("msg") or f"the board command ended (exit {code}) without a result"
            raise DeployError(f"{self.host}: {msg}")
        return self.result

    def abort(self) -> dict | None:
        """Close stdin (the board command aborts and removes what it wrote) and wait for it to say so."""
        try:
            self.channel.shutdown_write()
        except (OSError, EOFError):
            return None
        for t in self._threads:
            t.join(timeout=ABORT_WAIT_S)
        self.channel.close()
        return self.result
