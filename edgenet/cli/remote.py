"""`edgenet remote HOST ACTION ...`: run, eval, profile or follow logs on deployed boards."""

from __future__ import annotations

import argparse

from edgenet.cli.common import port
from edgenet.cli.ssh_options import add_ssh_options, finish, ssh_settings


def register(sub) -> None:
    p = sub.add_parser(
        "remote", help="run/eval/profile on a deployed board, or follow its service logs",
        description="ACTION is run, eval or profile (the rest of the line goes to `edgenet ACTION` on the board, "
                    "with the current release's venv and model), or logs (journalctl -u edgenet -f). "
                    "profile results are copied to RESULTS/<host>/. HOST may be a comma-separated list.",
    )
    p.add_argument("host", metavar="HOST", help="user@host[:port] or ~/.ssh/config name; comma-separated for several")
    p.add_argument("action", choices=("run", "eval", "profile", "logs"), metavar="ACTION")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="ARGS", help="options for `edgenet ACTION` on the board")
    p.add_argument("--results", default="results", metavar="DIR", help="where profile results land (default results/)")
    p.add_argument("--local-port", type=port, metavar="PORT",
                   help="with `run --serve PORT`: the port on this machine the live view is forwarded to (default: PORT)")
    add_ssh_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from deploy.commands import remote_hosts
    from edgenet.outputs import check_output_folder

    if args.action == "profile":
        check_output_folder(args.results, option="--results")

    hosts = [h for h in args.host.split(",") if h.strip()]
    report = remote_hosts(hosts, args.action, list(args.rest), hosts_file=args.hosts_file,
                          settings=ssh_settings(args), parallel=args.parallel, results_dir=args.results,
                          base_dir=args.base_dir, local_port=args.local_port)
    if args.action == "profile":
        for o in report.outcomes:
            if o.ok and o.value.choice:
                print(f"{o.host}: {o.value.choice.get('explanation')}")
    return finish(report)
