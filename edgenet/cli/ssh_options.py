"""What every verb that works on boards over ssh shares (deploy, remote, profile --host): the ssh
options, the settings made from them, and the exit code of a fleet's report."""

from __future__ import annotations

import argparse
import sys

from edgenet.cli.common import positive_int, seconds


def add_ssh_options(p: argparse.ArgumentParser) -> None:
    """No password option: keys or ssh-agent only."""
    g = p.add_argument_group("ssh")
    g.add_argument("--hosts-file", metavar="FILE", help="more hosts, one per line (# comments)")
    g.add_argument("--parallel", type=positive_int, default=4, metavar="N", help="hosts worked on at once (default 4)")
    g.add_argument("--accept-new", action="store_true",
                   help="trust and save the key of a host not yet in known_hosts (ssh's StrictHostKeyChecking=accept-new)")
    g.add_argument("--ssh-config", metavar="FILE", help="ssh config file (default ~/.ssh/config)")
    g.add_argument("--known-hosts", metavar="FILE", help="known_hosts file (default ~/.ssh/known_hosts)")
    g.add_argument("--connect-timeout", type=seconds, default=15.0, metavar="SECONDS", help="default 15")
    g.add_argument("--base-dir", default="~/edgenet", metavar="DIR", help="folder on the board (default ~/edgenet)")


def ssh_settings(args: argparse.Namespace):
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
