"""The board command: ``python3 -m edgenet.cli.release install|rollback|status|clean`` ON the board.

Run by the board's system python3 from the pushed wheel, before any venv exists (standard library
only), by ``edgenet deploy`` over ssh and by an Ansible task alike::

    cd / && PYTHONPATH=BASE/releases/STAMP/edgenet-X.whl python3 -s -m edgenet.cli.release install \\
        --base ~/edgenet --manifest incoming/manifest.json --wheelhouse wheelhouse --if-changed

stdout gets exactly one JSON line, always with ``changed`` (``failed`` and ``msg`` on failure);
progress goes to stderr. Exit 0 ok, 1 a step failed, 2 bad arguments, 3 files the manifest names are
missing or different (``missing_artifacts``, ``missing_wheels``: copy them, run again), 130 aborted (a
signal, or in ``--interactive`` mode the client went away). ``--check`` changes nothing. ``--interactive`` (edgenet deploy's mode): the
manifest comes on stdin, JSON events go to stdout, and the run waits for ``uploaded`` and ``commit``
lines; end of input means abort. The layout, locks and steps are edgenet.board.releases/install.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading

from edgenet.board.releases import (DEFAULT_KEEP, Aborted, BadInput, Layout, ReleaseError, remove_dead_leftovers,
                                    resolve_base)

EXIT_FAILED, EXIT_USAGE, EXIT_MISSING, EXIT_ABORTED = 1, 2, 3, 130


def log(message: str) -> None:
    try:
        print(f"edgenet-release: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # nobody reads stderr any more; an interactive run notices the closed stdin instead


def emit(data: dict) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class StdinTalk:
    """The interactive client: JSON events out, words in. End of input aborts the run."""

    def __init__(self, runner):
        self.runner = runner
        self.committed = False
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="edgenet-release-stdin").start()

    def _read(self) -> None:
        for line in sys.stdin:
            self.lines.put(line.strip())
        self.lines.put(None)
        if not self.committed:  # after `commit` the client's word is given: its going away changes nothing
            self.runner.abort("the client went away")

    def wake(self) -> None:
        self.lines.put(None)

    def line(self) -> str:
        got = self.lines.get()
        if got is None:
            self.runner.abort("the client went away")
            self.runner.check()
        return got

    def event(self, kind: str, **fields) -> None:
        self.runner.check()
        try:
            emit({"event": kind, **fields})
        except (OSError, ValueError):
            self.runner.abort("the client went away")
            self.runner.check()

    def expect(self, word: str) -> None:
        got = self.line()
        if got != word:
            raise ReleaseError(f"expected {word!r} from the client, got {got[:40]!r}")
        self.committed = word == "commit"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one JSON line and exit 2, as every other outcome has its line
        print(f"edgenet-release: error: {message}", file=sys.stderr)
        emit({"changed": False, "failed": True, "msg": message})
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python3 -m edgenet.cli.release", description="edgenet's releases on this board")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    i = sub.add_parser("install", help="make a release of the manifest's artifacts current")
    i.add_argument("--base", required=True, help="the edgenet folder (~, ~/..., absolute, or relative to HOME)")
    i.add_argument("--manifest", required=True, metavar="FILE", help="JSON: wheel, model, labels, wheelhouse; - = stdin")
    i.add_argument("--artifacts", metavar="DIR", help="where the files are (default: the manifest's folder)")
    i.add_argument("--release", metavar="STAMP", help="a release folder the client uploads into (with --interactive)")
    i.add_argument("--interactive", action="store_true", help="edgenet deploy's protocol on stdin/stdout")
    i.add_argument("--wheelhouse", metavar="DIR", help="offline: pip --no-index --find-links DIR (relative: in --base)")
    i.add_argument("--index-url", metavar="URL")
    i.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="complete releases kept (>= 2)")
    i.add_argument("--fresh-env", action="store_true", help="build the dependency env again")
    i.add_argument("--if-changed", action="store_true", help="do nothing when the current release is the same")
    i.add_argument("--check", action="store_true",
                   help="change nothing: say whether a run would make a new release, and which files it lacks")
    r = sub.add_parser("rollback", help="switch current to the previous complete release")
    r.add_argument("--base", required=True)
    r.add_argument("--to", metavar="STAMP", help="this complete release instead of the previous one")
    for name, text in (("status", "releases, current, envs (changes nothing)"), ("clean", "remove dead leftovers")):
        sub.add_parser(name, help=text).add_argument("--base", required=True)
    return p


def _manifest(args, talk) -> tuple:
    if args.manifest == "-":
        if talk is not None:  # interactive: the first line
            return json.loads(talk.line()), args.artifacts
        if not args.artifacts:
            raise BadInput("--manifest - (on stdin) needs --artifacts DIR: where the files it names are")
        return json.loads(sys.stdin.read()), args.artifacts
    try:
        with open(args.manifest) as f:
            data = json.load(f)
    except OSError as exc:
        raise ReleaseError(f"cannot read the manifest {args.manifest}: {exc.strerror}") from None
    return data, args.artifacts or os.path.dirname(os.path.abspath(args.manifest))


def run(args) -> dict:
    from edgenet.board.releases import rollback

    resolve_base(args.base)  # a base folder that cannot be used is refused before anything else
    if args.action == "install":
        from edgenet.board.install import Runner
        from edgenet.board.install_flow import InstallOptions, install_release

        runner = Runner()
        talk = StdinTalk(runner) if args.interactive else None

        def on_signal(signum, frame):
            runner.abort(signal.Signals(signum).name)
            if talk is not None:
                talk.wake()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        if args.release and not args.interactive:
            raise BadInput("--release is edgenet deploy's interactive mode: use --artifacts DIR")
        try:
            manifest, artifacts = _manifest(args, talk)
        except ValueError as exc:
            raise BadInput(f"the manifest is not JSON: {exc}") from None
        opts = InstallOptions(base=args.base, manifest=manifest, artifacts=None if args.release else artifacts,
                              release=args.release, wheelhouse=args.wheelhouse, index_url=args.index_url,
                              keep=args.keep, fresh_env=args.fresh_env, if_changed=args.if_changed)
        if args.check and args.interactive:
            raise BadInput("--check is for a non-interactive install")
        return install_release(opts, runner, log, talk, check_only=args.check)
    layout = Layout(resolve_base(args.base))
    if args.action == "rollback":
        old, new = rollback(layout, args.to)
        log(f"current: {old} -> {new}")
        return {"changed": True, "from": old, "to": new, "base": layout.base}
    if args.action == "clean":
        removed = remove_dead_leftovers(layout)
        return {"changed": bool(removed), "removed": removed, "base": layout.base}
    return {"changed": False, **layout.status()}


def main(argv: list | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
    except Aborted as exc:
        log(str(exc))
        result, code = {"changed": False, "failed": True, "aborted": True, "msg": str(exc)}, EXIT_ABORTED
    except ReleaseError as exc:
        from edgenet.board.install_flow import MissingFiles

        log(f"error: {exc}")
        if isinstance(exc, MissingFiles):  # the one use of exit 3: copy these, run again
            emit({"changed": False, "failed": True, "missing_artifacts": exc.artifacts, "missing_wheels": exc.wheels,
                  "msg": str(exc)})
            return EXIT_MISSING
        result = {"changed": False, "failed": True, "msg": str(exc)}
        code = EXIT_USAGE if isinstance(exc, BadInput) else EXIT_FAILED
    except OSError as exc:  # a full disk, a permission: one line, what was written is already removed
        msg = f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else "")
        log(f"error: {msg}")
        result, code = {"changed": False, "failed": True, "msg": msg}, EXIT_FAILED
    else:
        code = 0
    try:
        emit(result)
    except (OSError, ValueError):
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
