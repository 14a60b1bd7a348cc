"""`edgenet profile --host HOST`: the same profile, on boards over ssh (deploy/ does the work).

The options are validated here as one ProfileConfig, exactly as for a local profile, before anything
connects; the board then gets the command line that means the same config (``board_argv``), with
the models (``--models DIR``, or the workstation's grid) and the accuracy files pushed beside it.
"""

from __future__ import annotations

import argparse

from edgenet.cli.ssh_options import add_ssh_options, finish, ssh_settings


def add_host_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("on a board over ssh")
    g.add_argument("--host", action="append", default=[], metavar="HOST",
                   help="profile on this deployed board (repeatable): push the models, profile there, copy results back")
    g.add_argument("--results", default="results", metavar="DIR", help="--host: results land in DIR/<host>/ (default results/)")
    add_ssh_options(p)


def board_argv(config, plot: bool = False) -> list[str]:
    """The `edgenet profile` options of ``config`` (a ProfileConfig) that mean the same on the board;
    what is the workstation's business (which models, where results go, accuracy files, this board's
    sysfs and tools) is left out. Defaults are left out too, so the board's own defaults apply."""
    from edgenet.profiler import MeasureOptions, ProfileConfig

    base, measure = ProfileConfig(models="."), MeasureOptions()
    out: list[str] = []

    def add(flag: str, value, default) -> None:
        if value is not None and value != default:
            out.extend([flag, str(value)])

    add("--target-fps", config.target_fps, None)
    add("--margin", config.margin, base.margin)
    if config.threads:
        out += ["--threads", ",".join(map(str, config.threads))]
    m = config.measure
    add("--min-runs", m.min_runs, measure.min_runs)
    add("--min-time", m.min_time, measure.min_time)
    add("--warmup", m.warmup, measure.warmup)
    add("--runtime", m.runtime, measure.runtime)
    if not m.xnnpack:
        out.append("--no-xnnpack")
    add("--seeds", config.seeds, base.seeds)
    for flag, on in (("--predict-only", config.predict_only), ("--fast", config.fast)):
        if on:
            out.append(flag)
    add("--source", config.source, None)
    add("--e2e-frames", config.e2e_frames, base.e2e_frames)
    add("--sustained", config.sustained, None)
    add("--sample-interval", config.sustained_interval, base.sustained_interval)
    add("--sustained-candidates", config.sustained_candidates, base.sustained_candidates)
    if plot:
        out.append("--plot")
    return out


def handle_profile_host(args: argparse.Namespace, config) -> int:
    """``config``: the ProfileConfig the options make, already validated."""
    from deploy.commands import profile_hosts
    from edgenet.errors import UsageError
    from edgenet.profiler.select import EXIT_NO_PICK

    if args.out or args.csv or args.json_file or args.build_only or args.include_float:
        raise UsageError("with --host, results go to --results DIR/<host>/; --out/--csv/--json-file/"
                         "--build-only/--float are for local profiles")
    from edgenet.outputs import check_output_folder

    check_output_folder(args.results, option="--results")
    models = (config.models,) if isinstance(config.models, str) else config.models
    report = profile_hosts(args.host, models=models, grid_weights=config.weights, model_cache=config.model_cache,
                           profile_args=board_argv(config, plot=args.plot is not None), accuracy=config.accuracy,
                           hosts_file=args.hosts_file, settings=ssh_settings(args), parallel=args.parallel,
                           results_dir=args.results, base_dir=args.base_dir)
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
    return code or (EXIT_NO_PICK if no_pick else 0)
