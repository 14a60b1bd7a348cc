"""`edgenet deploy`: install edgenet and a model on boards over ssh (new release, smoke test, atomic switch)."""

from __future__ import annotations

import argparse
import sys

from edgenet.cli.common import positive_float, positive_int


def add_ssh_options(p: argparse.ArgumentParser) -> None:
    """Options shared by deploy, remote and profile --host. No password option: keys or ssh-agent only."""
    g = p.add_argument_group("ssh")
    g.add_argument("--hosts-file", metavar="FILE", help="more hosts, one per line (# comments)")
    g.add_argument("--parallel", type=positive_int, default=4, metavar="N", help="hosts worked on at once (default 4)")
    g.add_argument("--accept-new", action="store_true",
                   help="trust and save the key of a host not yet in known_hosts (ssh's StrictHostKeyChecking=accept-new)")
    g.add_argument("--ssh-config", metavar="FILE", help="ssh config file (default ~/.ssh/config)")
    g.add_argument("--known-hosts", metavar="FILE", help="known_hosts file (default ~/.ssh/known_hosts)")
    g.add_argument("--connect-timeout", type=positive_float, default=15.0, metavar="SECONDS", help="default 15")
    g.add_argument("--base-dir", default="~/edgenet", metavar="DIR", help="folder on the board (default ~/edgenet)")


def ssh_settings(args):
    from deploy.fleet import SshSettings

    return SshSettings(ssh_config=args.ssh_config, known_hosts=args.known_hosts, accept_new=args.accept_new,
                       timeout=args.connect_timeout)


def finish(report, single_error: bool = True) -> int:
    """Summary on stderr; a lone host's error re-raised as the usual one-line error; exit 0 only if all succeeded."""
    if len(report.outcomes) == 1 and report.failed and single_error:
        exc = report.failed[0].exception
        from edgenet.errors import EdgenetError

        if isinstance(exc, EdgenetError):
            raise exc
    if len(report.outcomes) > 1 or report.failed:
        for line in report.summary_lines():
            print(f"edgenet: {line}", file=sys.stderr)
    return 0 if report.ok else 2


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

    config = None
    if not args.rollback:
        if not args.model:
            raise UsageError("edgenet deploy needs --model M (or --rollback)")
        config = DeployConfig(model=args.model, labels=Path(args.labels) if args.labels else None,
                              base_dir=args.base_dir, offline=args.offline, index_url=args.index_url, keep=args.keep,
                              fresh_env=args.fresh_env)
    elif args.model or args.service:
        raise UsageError("--rollback takes only hosts (and ssh options)")
    service = None
    if args.service:
        source = args.source
        if source is None and args.camera is not None:
            from edgenet.board.camera import camera_uri

            source = camera_uri(args.camera)
        service = ServiceConfig(source=source or "", run_args=tuple(shlex.split(args.run_args)))
    report = deploy_hosts(args.hosts, hosts_file=args.hosts_file, config=config, settings=ssh_settings(args),
                          parallel=args.parallel, service=service, do_rollback=args.rollback,
                          wheelhouse=Path(args.wheelhouse) if args.wheelhouse else None)
    for o in report.outcomes:
        if o.ok and not args.rollback:
            r = o.value
            print(f"{o.host}: {r.release} is current (smoke test: top-1 {r.smoke['top1']}, {r.smoke['infer_ms']} ms)")
    return finish(report)


# `edgenet profile --host`: the options profile.py adds and the handler it delegates to.
_PROFILE_PASS = (("target_fps", "--target-fps"), ("margin", "--margin"), ("min_runs", "--min-runs"),
                 ("min_time", "--min-time"), ("warmup", "--warmup"), ("runtime", "--runtime"), ("seeds", "--seeds"),
                 ("source", "--source"), ("e2e_frames", "--e2e-frames"), ("sustained", "--sustained"),
                 ("sample_interval", "--sample-interval"), ("sustained_candidates", "--sustained-candidates"))


def add_host_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("on a board over ssh")
    g.add_argument("--host", action="append", default=[], metavar="HOST",
                   help="profile on this deployed board (repeatable): push the models, profile there, copy results back")
    g.add_argument("--results", default="results", metavar="DIR", help="--host: results land in DIR/<host>/ (default results/)")
    add_ssh_options(p)


def profile_board_args(args: argparse.Namespace) -> list[str]:
    """The `edgenet profile` options that mean the same on the board."""
    out: list[str] = []
    for attr, flag in _PROFILE_PASS:
        value = getattr(args, attr, None)
        if value is not None and not (attr == "margin" and value == 0.0):
            out += [flag, str(value)]
    if args.threads:
        out += ["--threads", ",".join(map(str, args.threads))]
    for attr, flag in (("predict_only", "--predict-only"), ("fast", "--fast")):
        if getattr(args, attr):
            out.append(flag)
    if not args.xnnpack:
        out.append("--no-xnnpack")
    if args.plot is not None:
        out.append("--plot")
    return out


def handle_profile_host(args: argparse.Namespace) -> int:
    from deploy.commands import profile_hosts
    from edgenet.errors import UsageError

    if args.out or args.csv or args.json_file or args.build_only or args.include_float:
        raise UsageError("with --host, results go to --results DIR/<host>/; --out/--csv/--json-file/"
                         "--build-only/--float are for local profiles")
    report = profile_hosts(args.host, models=args.models, grid_weights="random" if args.random_weights else "official",
                           model_cache=args.model_cache,
                           profile_args=profile_board_args(args), accuracy=tuple(args.accuracy), hosts_file=args.hosts_file,
                           settings=ssh_settings(args), parallel=args.parallel, results_dir=args.results,
                           base_dir=args.base_dir)
    no_pick = False
    for o in report.outcomes:
        if o.ok:
            rp = o.value
            print(f"{o.host}: results in {rp.files[0].parent}")
            if rp.choice:
                pick = rp.choice.get("pick")
                print(f"{o.host}: pick: {pick['name']} with {pick['threads']} thread(s), {pick['fps']} FPS"
                      if pick else f"{o.host}: no pick: {rp.choice.get('explanation')}")
                no_pick |= pick is None
    code = finish(report)
    return code or (1 if no_pick else 0)
