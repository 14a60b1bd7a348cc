"""`edgenet models`: the pretrained models of the model index, and the cache that holds them."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import positive_int, seconds


def register(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list, pull, locate, verify and remove pretrained models (the 32 official MobileNet V1 models)",
        description="Pretrained models from the model index (built in: the 32 official MobileNet V1 models; "
        "EDGENET_MODEL_INDEX=FILE replaces it, EDGENET_MODEL_MIRROR=URL fetches the same files from a mirror). "
        "Downloads are sha256-checked before anything is extracted and kept in the cache "
        "($EDGENET_CACHE, else $XDG_CACHE_HOME/edgenet or ~/.cache/edgenet).",
    )
    verbs = p.add_subparsers(dest="models_verb", metavar="ACTION")
    verbs.required = True

    ls = verbs.add_parser("list", help="the index: name, alpha, resolution, precision, mult-adds, top-1, size, cached")
    ls.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ls.add_argument("--cached", action="store_true", help="only the models in the cache")
    ls.add_argument("--width", type=positive_int, help=argparse.SUPPRESS)  # tests: render at a terminal width
    ls.set_defaults(handler=handle_list)

    pull = verbs.add_parser("pull", help="download models into the cache (sha256-checked)")
    pull.add_argument("names", nargs="*", metavar="NAME")
    pull.add_argument("--all", action="store_true", help="every model of the index")
    pull.add_argument("--force", action="store_true", help="download again even when cached")
    pull.add_argument("--timeout", type=seconds, metavar="SECONDS",
                      help="give up when no data comes for this long (default 30, or $EDGENET_DOWNLOAD_TIMEOUT)")
    pull.set_defaults(handler=handle_pull)

    path = verbs.add_parser("path", help="print the cached file of a model (pulled first if needed)")
    path.add_argument("name", metavar="NAME")
    path.add_argument("--labels", action="store_true", help="print the labels file instead")
    path.add_argument("--no-pull", dest="pull", action="store_false", help="fail instead of downloading")
    path.set_defaults(handler=handle_path)

    ver = verbs.add_parser("verify", help="re-hash the cached models against the sha256 recorded at pull time")
    ver.add_argument("names", nargs="*", metavar="NAME", help="default: every cached model")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(handler=handle_verify)

    rm = verbs.add_parser("rm", help="remove models from the cache")
    rm.add_argument("names", nargs="*", metavar="NAME")
    rm.add_argument("--all", action="store_true", help="every cached model")
    rm.set_defaults(handler=handle_rm)


def _log(message: str) -> None:
    print(f"edgenet: {message}", file=sys.stderr)


def handle_list(args: argparse.Namespace) -> int:
    from edgenet.models import list_models

    index, statuses = list_models()
    rows = [s for s in statuses if s.cached or not args.cached]
    if args.json:
        json.dump({"index": index.source, "default": index.default, "models": [r.as_dict() for r in rows]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from edgenet.cache import cache_dir
    from edgenet.report import make_console
    from edgenet.tables import Column, print_table

    if not rows:
        print(f"no models in the cache ({cache_dir('models')}); `edgenet models pull NAME` fetches one")
        return 0
    columns = [Column("name", justify="left", key=True), Column("α"), Column("ρ"), Column("dtype", justify="left"),
               Column("M MACs"), Column("top-1 %"), Column("MB"), Column("cached", justify="left")]
    cells = []
    for r in rows:
        d = r.as_dict()
        size = (f"{d['size'] / 1e6:.1f}" if d["size"] is not None
                else f"~{d['size_estimate'] / 1e6:.1f}" if d["size_estimate"] else "")
        cells.append([d["name"], f"{d['alpha']:.2f}" if d["alpha"] else "", str(d["resolution"] or ""),
                      d["dtype"] or "", f"{d['mult_adds'] / 1e6:.0f}" if d["mult_adds"] else "",
                      f"{d['top1']:.1f}" if d["top1"] is not None else "", size, "yes" if d["cached"] else ""])
    console = make_console(width=args.width)
    print_table(console, f"models (default {index.default})", columns, cells)
    console.print(f"index: {index.source}\ncache: {cache_dir('models')}\nM MACs: millions of mult-adds; top-1: published ImageNet top-1\n"
                  "MB: the .tflite file (~ estimated until pulled)")
    return 0


def handle_pull(args: argparse.Namespace) -> int:
    from edgenet.models import pull_models

    pull_models(args.names, all_models=args.all, force=args.force, timeout=args.timeout, log=_log)
    return 0


def handle_path(args: argparse.Namespace) -> int:
    from edgenet.models import resolve_model

    resolved = resolve_model(args.name, pull_missing=args.pull, log=_log)
    if args.labels and resolved.labels is None:
        from edgenet.errors import UsageError

        raise UsageError(f"{args.name} has no labels file in the model index")
    print(resolved.labels if args.labels else resolved.path)
    return 0


def handle_verify(args: argparse.Namespace) -> int:
    from edgenet.models import verify_models

    results = verify_models(args.names)
    if args.json:
        json.dump([{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            print(f"{'ok  ' if r.ok else 'BAD '} {r.name}: {r.detail}")
        if not results:
            print("no models in the cache")
    return 0 if all(r.ok for r in results) else 1


def handle_rm(args: argparse.Namespace) -> int:
    from edgenet.models import remove_models

    for path in remove_models(args.names, all_models=args.all):
        print(f"removed {path}")
    return 0
