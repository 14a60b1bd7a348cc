"""The ``edgenet`` command. Each verb lives in its own module here and calls one library function.

Verb modules define ``register(subparsers)``, which adds the verb's parser and sets ``handler``.
Only the verb that runs imports what it needs: ``edgenet run`` never loads TensorFlow, ``edgenet
build`` imports ``calibration`` (and TensorFlow) inside its handler.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from edgenet import __version__
from edgenet.errors import EdgenetError

# Order is the order of `edgenet --help`.
VERBS = (
    "run",
    "eval",
    "models",
    "info",
    "profile",
    "calibrate",
    "build",
    "retarget",
    "train",
    "demo",
    "deploy",
    "remote",
    "doctor",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgenet",
        description="MobileNet V1 on the edge: int8 TFLite with XNNPACK, calibration, profiling, deployment.",
    )
    parser.add_argument("--version", action="version", version=f"edgenet {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb in VERBS:
        import_module(f"edgenet.cli.{verb.replace('-', '_')}").register(sub)
    return parser


WORKSTATION_PACKAGES = ("calibration", "deploy")
# What the workstation verbs need beyond a board's install (pyproject's [host] extra). Checked before
# the verb does any work: `demo` would otherwise draw its pictures first, `build` fail inside TensorFlow.
BUILDING = ("calibration", "tensorflow", "keras")
SSH = ("deploy", "paramiko", "fabric")


def workstation_needs(args: argparse.Namespace) -> tuple:
    if args.verb in ("build", "train", "demo"):
        return BUILDING
    if args.verb in ("deploy", "remote") or (args.verb == "profile" and getattr(args, "host", None)):
        return SSH
    return ()


def missing_modules(names) -> list:
    """The top-level modules of ``names`` that cannot be imported here (found without importing them)."""
    from importlib.util import find_spec

    out = []
    for name in names:
        if name in sys.modules:
            if sys.modules[name] is None:  # import would raise ModuleNotFoundError
                out.append(name)
            continue
        try:
            if find_spec(name) is None:
                out.append(name)
        except (ImportError, ValueError):
            out.append(name)
    return out


def workstation_message(verb: str, missing: list) -> str:
    what = "profile --host" if verb == "profile" else verb
    return (f"`edgenet {what}` runs on the workstation and needs {', '.join(missing)}, not installed here: "
            f"pip install -e '.[host]' in a clone, or pip install 'edgenet-{__version__}-py3-none-any.whl[host]'")


def error(message: str) -> None:
    print(f"edgenet: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()  # the verbs import numpy and OpenCV: a broken install shows here first
    except Exception as exc:
        from edgenet.board.imports import board_import_failure

        message = board_import_failure(exc)
        if message is None:
            raise
        error(message)
        return 2
    args = parser.parse_args(argv)
    missing = missing_modules(workstation_needs(args))
    if missing:
        error(workstation_message(args.verb, missing))
        return 2
    try:
        code = args.handler(args)
    except EdgenetError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # e.g. `edgenet run --json | head`
        return 0
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        if package not in WORKSTATION_PACKAGES:
            from edgenet.board.imports import board_import_failure

            message = board_import_failure(exc)
            if message is None:
                raise
            error(message)
            return 2
        # A backstop for a workstation package reached by a path workstation_needs does not know.
        error(workstation_message(args.verb, [package]))
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
