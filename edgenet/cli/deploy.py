"""`edgenet deploy`: install edgenet and a model on boards over ssh (new release, smoke test, atomic switch)."""

from __future__ import annotations

import argparse

from edgenet.cli.common import positive_int
from edgenet.cli.ssh_options import add_ssh_options, finish, ssh_settings


def register(sub) -> None:
    p = sub.add_parser(
        "deploy", help="install edgenet and a model on boards over ssh",
        description="Preflight each board, upload edgenet's wheel and the model into a new release folder, build a "
                    "venv, smoke-test it there, then switch ~/edgenet/current atomically. --rollback switches back.",
    )
    p.add_argument("hosts", nargs="*", metavar="HOST", help="user@host[:port] or a name from ~/.ssh/config")
    p.add_argument("--model", metavar="NAME|PATH",
                   help="the .tflite model to deploy, or a model index name: the file cached on this workstation "
                   "(pulled here first if needed) is pushed, so the board needs no internet")
    p.add_argument("--labels", metavar="L", help="labels file deployed beside the model")
    p.add_argument("--rollback", action="store_true", help="switch current back to the previous release")
    p.add_argument("--emit-ansible", metavar="DIR",
                   help="change nothing: write an Ansible inventory (boards grouped by kind, from preflight), the "
                   "artifacts and deploy.yml/rollback.yml into DIR, for ansible-playbook on a fleet")
    p.add_argument("--build-wheel", metavar="DIR",
                   help="contact no board: build the board wheel (the edgenet package alone, no calibration or "
                   "deploy) into DIR and print its path, for installing by hand on a board")
    p.add_argument("--offline", action="store_true",
                   help="no index on the board: push a wheelhouse built here for the board's platform")
    p.add_argument("--wheelhouse", metavar="DIR", help="with --offline: use this wheelhouse instead of building one")
    p.add_argument("--index-url", metavar="URL", help="package index the board installs from (default: its pip config)")
    p.add_argument("--keep", type=positive_int, default=5, help="complete releases kept on the board (default 5)")
    p.add_argument("--fresh-env", action="store_true",
                   help="reinstall the dependencies (numpy, OpenCV, LiteRT) even if an identical env is on the board")
    s = p.add_argument_group("service")
    s.add_argument("--service", action="store_true", help="install and (re)start a systemd unit running `edgenet run`")
    s.add_argument("--source", metavar="URI", help="service: the video source (as `edgenet run --source`)")
    s.add_argument("--camera", type=int, metavar="N", help="service: camera N (as `edgenet run --camera`)")
    s.add_argument("--run-args", default="--headless", metavar="ARGS",
                   help="service: more `edgenet run` options, shell-style (default --headless)")
    add_ssh_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from deploy.commands import deploy_hosts
    from deploy.release import DeployConfig
    from deploy.service import ServiceConfig
    from edgenet.errors import UsageError

    if args.build_wheel:
        if args.hosts or args.hosts_file or args.model or args.rollback or args.emit_ansible:
            raise UsageError("--build-wheel DIR takes nothing else: it builds the board wheel and contacts no board")
        from deploy.build import build_wheel
        from edgenet.outputs import check_output_folder

        check_output_folder(args.build_wheel, "--build-wheel")
        print(build_wheel(args.build_wheel))
        return 0
    if args.rollback and (args.model or args.service or args.emit_ansible):
        raise UsageError("--rollback takes only hosts (and ssh options); the emitted rollback.yml rolls back a fleet")
    if args.emit_ansible and not args.model:
        raise UsageError("--emit-ansible DIR needs --model M (what the playbook deploys)")
    config = None
    if args.model:  # without one (and without --rollback) deploy_hosts says what is missing
        config = DeployConfig(model=args.model, labels=Path(args.labels) if args.labels else None,
                              base_dir=args.base_dir, offline=args.offline, index_url=args.index_url, keep=args.keep,
                              fresh_env=args.fresh_env)
    service = None
    if args.service:
        # --camera N goes to the board as it is: what it means there is the board's to decide.
        service = ServiceConfig(source=args.source, camera=args.camera, run_args=tuple(shlex.split(args.run_args)))
    if args.emit_ansible:
        from deploy.ansible import emit_ansible

        emitted = emit_ansible(args.emit_ansible, args.hosts, config=config, hosts_file=args.hosts_file,
                               settings=ssh_settings(args), parallel=args.parallel, service=service,
                               wheelhouse=Path(args.wheelhouse) if args.wheelhouse else None)
        for line in emitted.lines():
            print(line)
        return 0
    report = deploy_hosts(args.hosts, hosts_file=args.hosts_file, config=config, settings=ssh_settings(args),
                          parallel=args.parallel, service=service, do_rollback=args.rollback, base_dir=args.base_dir,
                          wheelhouse=Path(args.wheelhouse) if args.wheelhouse else None)
    for o in report.outcomes:
        if o.ok and not args.rollback:
            r = o.value
            print(f"{o.host}: {r.release} is current (smoke test: top-1 {r.smoke['top1']}, {r.smoke['infer_ms']} ms)")
    return finish(report)
