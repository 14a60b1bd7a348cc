"""What `edgenet deploy --emit-ansible` writes, without boards: preflight answers come from the
recorded outputs in tests/fixtures/preflight/ (a Pi 5 twice, a Jetson without venv, a PC, one board
that cannot be reached), the wheel and wheelhouse are small stand-ins. The emitted files are read by
Ansible itself where it is installed (ansible-inventory, ansible's debug, --syntax-check)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy.ansible import emit_ansible, play_base
from deploy.errors import DeployError
from deploy.fleet import SshSettings
from deploy.preflight import parse_preflight
from deploy.release import DeployConfig
from tests.conftest import FIXTURES, ROOT

BIN = Path(sys.executable).parent
HOSTILE = "m {{ lookup('pipe', 'touch pwned-jinja') }} {% raw %}; $(touch pwned) 'q'.tflite"
HOSTS = ["pi@pi5-a", "pi5-b", "jetson", "pc:2222", "lost"]
RECORDED = {"pi@pi5-a": "pi5_bookworm.txt", "pi5-b": "pi5_bookworm.txt", "jetson": "jetson_orin_jetpack6.txt",
            "pc:2222": "x86_64_debian12_pc.txt"}


def fake_wheel(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x/__init__.py", "")
    return path


@pytest.fixture
def emitted(tmp_path, monkeypatch, tiny_model, tiny_labels):
    import deploy.ansible as ansible_mod
    import deploy.build as build

    def facts(names, base_dir, settings, parallel, on_status):
        assert base_dir == "~/edge fleet"
        return {h: parse_preflight((FIXTURES / "preflight" / RECORDED[h]).read_text()) if h in RECORDED
                else "connection refused" for h in names}

    wheel = fake_wheel(tmp_path / "wheel" / "edgenet-0.1.0-py3-none-any.whl")
    monkeypatch.setattr(build, "build_wheel", lambda: wheel)
    monkeypatch.setattr(ansible_mod, "preflight_hosts", facts)
    house = tmp_path / "house"
    fake_wheel(house / "numpy-2.0.0-py3-none-any.whl")
    model = tmp_path / HOSTILE
    shutil.copy(tiny_model, model)
    config_dir = tmp_path / "ssh dir"
    config_dir.mkdir()
    settings = SshSettings(ssh_config=str(config_dir / "ssh config"), known_hosts=str(config_dir / "known hosts"))

    def emit(out="fleet", offline=True, **kw):
        cfg = DeployConfig(model=model, labels=tiny_labels, base_dir="~/edge fleet", offline=offline)
        return emit_ansible(tmp_path / out, HOSTS, config=cfg, settings=settings, wheelhouse=house,
                            on_status=lambda m: None, **kw)

    return {"emit": emit, "dir": tmp_path / "fleet", "tmp": tmp_path, "config_dir": config_dir}


def ansible(tool: str, *args: str, cwd: Path) -> str:
    exe = BIN / tool
    if not exe.exists():
        pytest.skip(f"{tool} not installed (pip install -e '.[fleet]')")
    r = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "ANSIBLE_NOCOLOR": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def plain(value):
    """ansible-inventory's JSON with its ``{"__ansible_unsafe": text}`` wrappers (the !unsafe vars) unwrapped."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@pytest.mark.ansible
def test_boards_are_grouped_by_kind_and_refusals_become_play_failures(emitted):
    report = emitted["emit"]()
    d = emitted["dir"]
    groups = {g: names for g, names in report.groups.items()}
    pi = [g for g in groups if g.startswith("edgenet_raspberry_pi_cp311_aarch64_glibc2_36_")]
    pc = [g for g in groups if g.startswith("edgenet_other_cp311_x86_64_glibc2_36_")]
    assert len(pi) == 1 and groups[pi[0]] == ["pi5-a", "pi5-b"]
    assert len(pc) == 1 and groups[pc[0]] == ["pc_2222"]
    assert groups["edgenet_unreached"] == ["lost"]
    assert set(report.refused) == {"jetson", "lost"}
    assert "venv" in report.refused["jetson"] and "not reached" in report.refused["lost"]
    # one wheelhouse and manifest per kind, named in its group_vars
    manifest = json.loads((d / "artifacts" / f"manifest-{pi[0]}.json").read_text())
    assert [w["name"] for w in manifest["wheelhouse"]] == ["numpy-2.0.0-py3-none-any.whl"]
    assert manifest["model"]["name"] == HOSTILE
    assert (d / "artifacts" / "wheelhouse" / pi[0] / "numpy-2.0.0-py3-none-any.whl").is_file()

    inv = json.loads(ansible("ansible-inventory", "-i", str(d / "inventory.ini"), "--list", cwd=emitted["tmp"]))
    assert sorted(inv["edgenet_boards"]["children"]) == sorted(groups)
    assert inv[pi[0]]["hosts"] == ["pi5-a", "pi5-b"]
    hv = plain(inv["_meta"]["hostvars"])
    assert (hv["pi5-a"]["ansible_host"], hv["pi5-a"]["ansible_user"]) == ("pi5-a", "pi")
    assert "ansible_user" not in hv["pi5-b"]  # the ssh config decides, as for edgenet deploy
    assert (hv["pc_2222"]["ansible_host"], hv["pc_2222"]["ansible_port"]) == ("pc", 2222)
    assert "edgenet_refused" not in hv["pi5-a"] and "venv" in hv["jetson"]["edgenet_refused"]
    # what preflight read saves the play a look at the board; a board not reached is looked at then
    assert (hv["pi5-a"]["edgenet_home"], hv["pi5-a"]["ansible_python_interpreter"]) == ("/home/pi", "/usr/bin/python3")
    assert "edgenet_home" not in hv["lost"] and hv["lost"]["ansible_python_interpreter"] == "auto_silent"
    assert hv["pi5-a"]["edgenet_manifest_file"] == f"artifacts/manifest-{pi[0]}.json"


@pytest.mark.ansible
def test_names_and_paths_reach_ansible_exactly_and_are_never_templated(emitted):
    emitted["emit"]()
    d, cfg = emitted["dir"], emitted["config_dir"]
    out = ansible("ansible", "pi5-a", "-i", str(d / "inventory.ini"), "-m", "ansible.builtin.debug", "-a",
                  "var=edgenet_files", cwd=emitted["tmp"])
    files = json.loads(out.split("=>", 1)[1])["edgenet_files"]
    assert files == ["edgenet-0.1.0-py3-none-any.whl", HOSTILE, "tiny_labels.txt"]
    out = ansible("ansible", "pi5-a", "-i", str(d / "inventory.ini"), "-m", "ansible.builtin.debug", "-a",
                  "var=ansible_ssh_common_args", cwd=emitted["tmp"])
    args = json.loads(out.split("=>", 1)[1])["ansible_ssh_common_args"]
    import shlex

    assert shlex.split(args)[:4] == ["-F", str(cfg / "ssh config"), "-o", f"UserKnownHostsFile={cfg / 'known hosts'}"]
    assert list(emitted["tmp"].rglob("pwned*")) == []
    # in the YAML the name is one !unsafe JSON string, nothing else
    text = (d / "group_vars" / "all.yml").read_text()
    assert text.count("pwned-jinja") == 1 and f"!unsafe {json.dumps(HOSTILE)}" in text


@pytest.mark.ansible
def test_playbooks_pass_ansibles_syntax_check(emitted):
    from deploy.service import ServiceConfig

    emitted["emit"](service=ServiceConfig(source="pattern://"))
    d = emitted["dir"]
    for book in ("deploy.yml", "rollback.yml"):
        ansible("ansible-playbook", "--syntax-check", "-i", str(d / "inventory.ini"), str(d / book), cwd=emitted["tmp"])
    text = (d / "deploy.yml").read_text()
    assert "--check" in text and "--if-changed" in (d / "group_vars" / "all.yml").read_text()
    assert 'edgenet_serial: "100%"' in (d / "fleet.yml").read_text()


def test_the_unit_template_renders_to_edgenet_deploys_own_unit(emitted):
    jinja2 = pytest.importorskip("jinja2")
    from deploy.service import ServiceConfig, unit_text

    service = ServiceConfig(source="rtsp://cam/{{x}}?a=%20", run_args=("--headless", "--top-k", "3"))
    emitted["emit"](service=service)
    template = (emitted["dir"] / "edgenet.service.j2").read_text()
    base = "/home/pi/edge 100% fleet"
    rendered = jinja2.Environment().from_string(template).render(ansible_user_id="pi", edgenet_base_path=base)
    assert rendered == unit_text(user="pi", base=base, model_name=HOSTILE, labels_name="tiny_labels.txt",
                                 service=service).rstrip("\n")  # Jinja drops one final newline
    assert "edge 100%% fleet/current" in rendered and "{{ lookup('pipe', 'touch pwned-jinja') }} {%% raw %%}" in rendered


def test_unreached_boards_without_offline_install_from_the_index(emitted):
    report = emitted["emit"](offline=False)
    d = emitted["dir"]
    assert "lost" not in report.refused and "lost" in report.unreached
    assert not (d / "artifacts" / "wheelhouse").exists()
    text = (d / "group_vars" / "all.yml").read_text()
    assert '"--wheelhouse"' not in text and not list((d / "group_vars").glob("edgenet_*.yml"))


@pytest.mark.parametrize("given,expected", [("~/edgenet", "~/edgenet"), ("edgenet", "~/edgenet"), ("~", "~"),
                                            ("/opt/e/", "/opt/e"), ("~/a/../b", "~/b"), ("~/x y; (1)", "~/x y; (1)")])
def test_base_folder_as_the_play_resolves_it(given, expected):
    assert play_base(given) == expected


@pytest.mark.parametrize("bad", ["~/$HOME", "~/a`b`", '~/a"b', "~other/x"])
def test_base_folders_no_quoting_can_carry_are_refused(bad):
    with pytest.raises(DeployError):
        play_base(bad)


def test_a_folder_with_other_files_is_refused_before_connecting_and_an_emitted_one_replaced(emitted, monkeypatch):
    import deploy.ansible as ansible_mod

    foreign = emitted["tmp"] / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    monkeypatch.setattr(ansible_mod, "preflight_hosts", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(DeployError, match="holds other files"):
        emitted["emit"](out="mine")
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_re_emitting_replaces_the_folder(emitted):
    emitted["emit"]()
    (emitted["dir"] / "stale.txt").write_text("from before")
    emitted["emit"](offline=False)
    assert not (emitted["dir"] / "stale.txt").exists() and (emitted["dir"] / "deploy.yml").is_file()
    assert [p.name for p in emitted["tmp"].iterdir() if p.name.startswith(".fleet")] == []


def test_cli_emit_needs_a_model_and_excludes_rollback(tmp_path):
    for args, text in ((["--emit-ansible", str(tmp_path / "d"), "pi@board"], "needs --model"),
                       (["--emit-ansible", str(tmp_path / "d"), "--rollback", "pi@board"], "--rollback takes only")):
        r = subprocess.run([sys.executable, "-m", "edgenet", "deploy", *args], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert r.returncode == 2 and text in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()
