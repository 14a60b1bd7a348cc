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


def error(message: str) -> None:
    print(f"edgenet: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
            raise
        # A board's wheel holds edgenet alone: the workstation verbs say where they run.
        error(f"`edgenet {args.verb}` runs on the workstation: the {package} package is not installed here "
              "(a board gets edgenet alone); in a source checkout: pip install -e '.[host]'")
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
