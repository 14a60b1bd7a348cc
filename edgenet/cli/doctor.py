"""`edgenet doctor`: check this board's install (interpreter, XNNPACK, cameras, numpy/OpenCV, thermals)."""

from __future__ import annotations

import argparse
import json
import sys

MARKS = {"ok": "ok  ", "info": "--  ", "warn": "WARN", "fail": "FAIL"}


def register(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="check this board: interpreter, XNNPACK, cameras, numpy/OpenCV and where they come from, thermals",
        description="Check what edgenet needs on this board and say what is wrong, with the fix for each problem. "
        "Exit code 1 when a check fails. Needs no TensorFlow and no network.",
    )
    p.add_argument("--json", action="store_true", help="the report as JSON (schema edgenet.doctor/1)")
    p.add_argument("--requirements", action="store_true",
                   help="print this board's pip requirement set (as python3 -m edgenet.cli.requirements) and stop")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.board.doctor import diagnose

    if args.requirements:
        from edgenet.cli.requirements import main as requirements_main

        return requirements_main([])

    def show(check) -> None:
        if args.json:
            return
        print(f"{MARKS.get(check.status, check.status)}  {check.name:<11} {check.found}", flush=True)
        if check.fix:
            print(f"{'':<17} fix: {check.fix}", flush=True)

    report = diagnose(on_check=show)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        problems = report.problems
        print(f"{len(problems)} problem(s)" if problems else "no problems found",
              file=sys.stderr if problems else sys.stdout)
    return 1 if report.failed else 0
