"""Deploy pieces without ssh: the systemd unit and its commands (fake runner), smoke-test parsing,
the atomic switch through a real sh, fleets with fake tasks, profile --host option forwarding."""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import pytest

from deploy.connect import Result, command_line
from tests.conftest import ROOT
from deploy.errors import DeployError
from deploy.hosts import HostSpec
from deploy.service import ServiceConfig, install_service, logs_command, systemd_quote, unit_text


@dataclass
class FakeRemote:
    """Mimics deploy.connect.Remote: records commands; ``replies`` maps a command prefix to a Result."""

    replies: dict = field(default_factory=dict)
    commands: list = field(default_factory=list)
    files: dict = field(default_factory=dict)
    spec: HostSpec = HostSpec(alias="pi@board", hostname="board", user="pi")

    def run(self, command, *, check=True, stream=False, timeout=None, what=None, cwd=None):
        command = command_line(command, cwd)  # what goes over ssh
        self.commands.append(command)
        for prefix, result in self.replies.items():
            if command.startswith(prefix):
                return result
        return Result("", "", 0)

    def write_text(self, path, text):
        self.files[path] = text


def test_unit_text_runs_current_release_as_ssh_user():
    text = unit_text(user="pi", base="/home/pi/edgenet", model_name="mobilenet_v1_050_160_int8.tflite",
                     labels_name="labels.txt", service=ServiceConfig(source="csi://0", run_args=("--headless", "--top-k", "3")))
    lines = text.splitlines()
    assert "User=pi" in lines and "Restart=on-failure" in lines and "WantedBy=multi-user.target" in lines
    assert ('ExecStart="/home/pi/edgenet/current/venv/bin/python" "-m" "edgenet" "run" "--model" '
            '"/home/pi/edgenet/current/model/mobilenet_v1_050_160_int8.tflite" "--labels" '
            '"/home/pi/edgenet/current/model/labels.txt" "--source" "csi://0" "--headless" "--top-k" "3"') in lines
    assert not any(l.startswith("User=root") for l in lines)


def test_systemd_quoting_of_hostile_names():
    assert systemd_quote('a "b" $(id) 50%\\x') == '"a \\"b\\" $$(id) 50%%\\\\x"'
    with pytest.raises(DeployError, match="newline"):
        systemd_quote("a\nb")
    with pytest.raises(DeployError, match="--service needs --source"):
        ServiceConfig(source="")
    with pytest.raises(DeployError, match="not both"):
        ServiceConfig(source="v4l2://0", camera=0)


def test_service_camera_is_left_to_the_board():
    """--camera N reaches the board's `edgenet run` as it is: a Pi's N is csi://N, a PC's v4l2://N."""
    text = unit_text(user="pi", base="/home/pi/edgenet", model_name="m.tflite", labels_name=None,
                     service=ServiceConfig(camera=1))
    assert ('ExecStart="/home/pi/edgenet/current/venv/bin/python" "-m" "edgenet" "run" "--model" '
            '"/home/pi/edgenet/current/model/m.tflite" "--camera" "1" "--headless"') in text.splitlines()


def test_install_service_issues_exact_commands():
    fake = FakeRemote()
    cmds = install_service(fake, release="/home/pi/edgenet/releases/20260101T000000.000Z", base="/home/pi/edgenet",
                           user="pi", model_name="m.tflite", labels_name=None, service=ServiceConfig(source="v4l2://0"))
    unit = "/home/pi/edgenet/releases/20260101T000000.000Z/edgenet.service"
    assert fake.commands == [shlex.join(c) for c in cmds] == [
        f"sudo -n install -m 0644 -- {unit} /etc/systemd/system/edgenet.service",
        "sudo -n systemctl daemon-reload",
        "sudo -n systemctl enable edgenet.service",
        "sudo -n systemctl restart edgenet.service",
    ]
    assert "User=pi" in fake.files[unit] and '"--source" "v4l2://0" "--headless"' in fake.files[unit]


def test_install_service_without_passwordless_sudo_is_a_clear_error():
    fake = FakeRemote(replies={"sudo -n install": Result("", "sudo: a password is required", 1)})
    with pytest.raises(DeployError, match="needs passwordless sudo"):
        install_service(fake, release="/r", base="/b", user="pi", model_name="m.tflite", labels_name=None,
                        service=ServiceConfig(source="csi://0"))
    assert len(fake.commands) == 1  # stopped at the first failure


def test_logs_command_follows_the_unit():
    assert shlex.join(logs_command()) == "journalctl -u edgenet.service -n 50 --no-pager -f"
    assert shlex.join(logs_command(10, follow=False)) == "journalctl -u edgenet.service -n 10 --no-pager"


def test_fleet_one_failure_does_not_stop_others_and_parallelism_is_bounded(monkeypatch):
    from deploy import fleet

    active, peak, lock = [0], [0], threading.Lock()

    class FakeConn:
        def __init__(self, spec):
            self.spec = spec

        def __enter__(self):
            return self

        def __exit__(self, *a):
            pass

    def fake_connect(spec, options):
        if spec.port == 2:
            raise DeployError(f"cannot reach {spec.hostname}:{spec.port}: connection refused")
        return FakeConn(spec)

    def task(remote):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        if remote.spec.port == 3:
            raise RuntimeError("disk exploded")
        return remote.spec.port

    monkeypatch.setattr(fleet, "connect", fake_connect)
    lines = []
    hosts = ["pi@a:1", "pi@b:2", "pi@c:3", "pi@d:4", "pi@e:5"]
    report = fleet.run_on_hosts(hosts, task, fleet.SshSettings(ssh_config="/nonexistent"), parallel=2, on_status=lines.append)
    assert [o.ok for o in report.outcomes] == [True, False, False, True, True]
    assert [o.value for o in report.outcomes if o.ok] == [1, 4, 5]
    assert peak[0] == 2
    assert report.summary_lines() == ["3 of 5 host(s) succeeded",
                                      "  FAILED pi@b:2: cannot reach b:2: connection refused",
                                      "  FAILED pi@c:3: RuntimeError: disk exploded"]
    assert "[pi@c:3] FAILED: RuntimeError: disk exploded" in lines and "[pi@d:4] done" in lines


def test_profile_host_forwards_board_options():
    from edgenet.cli import build_parser
    from edgenet.cli.profile import profile_config
    from edgenet.cli.profile_host import board_argv

    args = build_parser().parse_args(["profile", "--host", "pi@b", "--models", "m", "--target-fps", "30", "--margin", "0.1",
                                      "--threads", "1,4", "--min-runs", "20", "--fast", "--no-xnnpack"])
    assert args.handler.__module__ == "edgenet.cli.profile"
    assert board_argv(profile_config(args)) == ["--target-fps", "30.0", "--margin", "0.1", "--threads", "1,4",
                                                "--min-runs", "20", "--no-xnnpack", "--fast"]


@pytest.mark.parametrize("argv", [
    ["--target-fps", "30", "--margin", "0.1", "--threads", "1,4", "--min-runs", "20", "--fast", "--no-xnnpack"],
    ["--target-fps", "12.5", "--min-time", "0.5", "--warmup", "0", "--runtime", "litert", "--seeds", "4",
     "--predict-only", "--source", "v4l2://0", "--e2e-frames", "50", "--plot"],
    ["--target-fps", "15", "--sustained", "120", "--sample-interval", "2", "--sustained-candidates", "2"],
    [],
])
def test_the_board_gets_the_same_profile_config(argv):
    """Typed config -> board command line -> the board's parser: the same ProfileConfig again, apart
    from what stays on the workstation (which models, this machine's sysfs and tools)."""
    from dataclasses import replace

    from edgenet.cli import build_parser
    from edgenet.cli.profile import profile_config
    from edgenet.cli.profile_host import board_argv

    parse = build_parser().parse_args
    here = parse(["profile", "--host", "pi@b", "--grid", "--sysfs-root", "/x", "--vcgencmd", "none", *argv])
    config = profile_config(here)
    board_args = board_argv(config, plot=here.plot is not None)
    there = parse(["profile", "--models", "/board/models", *board_args])
    local_only = {"models": "/board/models", "grid": False, "sysfs_root": "/", "vcgencmd": config.vcgencmd}
    assert replace(profile_config(there), vcgencmd=config.vcgencmd) == replace(config, **local_only)
    assert (there.plot is not None) == ("--plot" in argv)


@pytest.mark.parametrize("argv,message", [
    (["deploy", "pi@x"], "edgenet deploy needs --model M (or --rollback)"),
    (["deploy", "--rollback", "--model", "m.tflite", "pi@x"], "--rollback takes only hosts"),
    (["deploy", "--model", "/nonexistent.tflite", "pi@x"], "model /nonexistent.tflite not found"),
    (["deploy", "--model", "tests/fixtures/mobilenet_v1_025_64_int8.tflite", "--service", "pi@x"], "--service needs --source"),
    (["deploy", "--rollback"], "no host given"),
    (["deploy", "--rollback", "pi@bad host"], "cannot read host 'pi@bad host'"),
    (["deploy", "--rollback", "pi@no-such-board.invalid"], "unknown host name 'no-such-board.invalid'"),
])
def test_cli_errors_are_one_line(argv, message, tmp_path):
    argv = argv[:1] + ["--ssh-config", str(tmp_path / "none"), "--known-hosts", str(tmp_path / "kh")] + argv[1:]
    r = subprocess.run([sys.executable, "-m", "edgenet", *argv], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("edgenet: error: ") and message in last and "Traceback" not in r.stderr


def test_profile_host_grid_uses_the_profilers_builder(monkeypatch, tmp_path):
    """--grid with --host: the 16 standard variants from the workstation's model cache, built with
    calibration's latency builder when missing, are what gets pushed (fleet and ssh faked here; the real
    push/profile path is covered by the sshd tests)."""
    from deploy import commands, fleet
    from deploy import remote as ops
    from edgenet.profiler import build as pbuild
    from edgenet.variants import standard_variants

    built = {}

    def fake_build_missing(folder, variants, dtypes=("int8",), *, builder, log=lambda m: None):
        from calibration.grid import latency_builder

        assert builder is latency_builder()  # calibration's builder (None without TensorFlow)
        built["folder"], built["variants"] = folder, list(variants)
        return []

    pushed = {}

    def fake_profile_on_board(remote, models, profile_args, results_dir, base_dir, *, accuracy=(), stream=True):
        pushed["models"], pushed["args"] = models, profile_args
        return "ok"

    monkeypatch.setattr(pbuild, "build_missing", fake_build_missing)
    monkeypatch.setattr(ops, "profile_on_board", fake_profile_on_board)
    monkeypatch.setattr(fleet, "run_on_hosts", lambda names, task, settings, **kw: fleet.FleetReport(
        [fleet.HostOutcome(n, True, task(FakeRemote())) for n in names]))
    monkeypatch.setattr(commands, "run_on_hosts", fleet.run_on_hosts)
    report = commands.profile_hosts(["pi@b"], grid_weights="random", model_cache=str(tmp_path), profile_args=["--target-fps", "30"],
                                    on_status=lambda m: None)
    assert report.ok and report.outcomes[0].value == "ok"
    assert str(built["folder"]) == str(tmp_path) and built["variants"] == list(standard_variants())
    assert [p.name for p in pushed["models"]] == [pbuild.grid_model_path(tmp_path, v).name for v in standard_variants()]
    assert len(pushed["models"]) == 16 and pushed["args"] == ["--target-fps", "30"]


def test_index_names_in_remote_arguments_become_board_paths():
    from deploy import remote as ops

    args = ["--model", "mobilenet_v1_050_160", "--source", "pattern://", "--labels", "l.txt"]
    assert ops.model_arg(args) == "mobilenet_v1_050_160" and ops.model_arg(["--model=x.tflite"]) == "x.tflite"
    assert ops.with_model(args, "/b/m.tflite", "/b/labels.txt") == ["--model", "/b/m.tflite", "--source", "pattern://",
                                                                     "--labels", "l.txt"]
    assert ops.with_model(["--model=n", "--json"], "/b/m.tflite", "/b/l.txt") == [
        "--model", "/b/m.tflite", "--labels", "/b/l.txt", "--json"]
    assert ops.models_items(["--threads", "1", "--models", "a", "/x/b", "--target-fps", "3"]) == ["a", "/x/b"]


# ---- every command sent over ssh: an argv list, quoted in one place -----------------------------------

HOSTILE = ["a b", "$(touch pwned)", "`touch pwned-bt`", "x; touch pwned-semi", "'q'", '"dq"', "a\\b", "-rf", "*",
           "&& touch pwned-and", "| touch pwned-pipe", "> pwned-redirect", "\u00e9t\u00e9 \U0001f4f7", "%s %n", "~root"]


def test_command_lines_carry_hostile_values_through_a_real_shell(tmp_path):
    """Remote.run/open_channel quote an argv list element by element (and `cd` for cwd): a POSIX shell
    gets back exactly the values, and runs none of them."""
    line = command_line(["printf", "%s\\n", *HOSTILE], cwd=str(tmp_path / "d; touch pwned-cwd"))
    (tmp_path / "d; touch pwned-cwd").mkdir()
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == HOSTILE
    assert not list(tmp_path.rglob("pwned*"))


def test_every_command_sent_over_ssh_is_an_argv_list_or_a_fixed_script():
    """No f-string, concatenation, format() or join() builds a command in deploy/: values travel as argv
    elements, which Remote quotes (command_line), or a command is a constant script of ours."""
    import ast

    offenders = []
    for path in sorted((ROOT / "deploy").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            name, arg = node.func.attr, node.args[0]
            built = isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
                isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr in ("format", "join"))
            local = isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess"  # no shell
            if name in ("run", "open_channel") and built and not local:
                offenders.append(f"{path.name}:{node.lineno} {name}()")
            if name in ("exec_command",) and not (isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "command_line"):
                offenders.append(f"{path.name}:{node.lineno} exec_command() without command_line()")
            if name == "run" and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "conn" and not (
                    isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "command_line"):
                offenders.append(f"{path.name}:{node.lineno} conn.run() without command_line()")
    assert offenders == []
