"""``python3 -m edgenet.cli.requirements``: what pip must install for edgenet on this board.

The install-by-hand entry point, so it works before anything is installed: in a clone, or with the
wheel on ``PYTHONPATH`` (a wheel is a zip Python can import from). Standard library only (this
package's ``__init__`` imports nothing else); it prints the set ``edgenet deploy`` would install::

    python3 -m edgenet.cli.requirements | .venv/bin/pip install . -r /dev/stdin

Run it with the Python the venv is made from (or the venv's): the set depends on that Python.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m edgenet.cli.requirements",
        description="Print the pip requirements edgenet needs on this board, each with its reason "
                    "(chosen from the userland's architecture, Python, glibc and the system's packages).")
    p.add_argument("--json", action="store_true", help="the set, the facts it was chosen from and any problem, as JSON")
    return p


def main(argv: list | None = None) -> int:
    from edgenet.board.facts import gather_facts
    from edgenet.board.requirements import board_requirements

    args = build_parser().parse_args(argv)
    rs = board_requirements(gather_facts())
    if args.json:
        print(json.dumps(rs.as_dict(), indent=2))
    elif rs.problem is None:
        sys.stdout.write(rs.text())
    if rs.problem:
        print(f"edgenet: error: {rs.problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
