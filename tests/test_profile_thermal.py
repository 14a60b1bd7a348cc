"""Thermal, frequency and throttle readings from a fake sysfs tree and fake vcgencmd / nvpmodel."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from edgenet.board.manifest import environment, memory_mb, os_release
from edgenet.profiler.sustained import run_sustained
from edgenet.board.thermal import ThermalProbe, decode_throttled, parse_get_throttled, parse_nvpmodel


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_pi(root: Path, temp_mc: int = 61_300, freq_khz: int = 1_500_000) -> Path:
    """The files a Raspberry Pi 4 exposes (values as the kernel writes them, with newlines)."""
    write(root, "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root, "sys/class/thermal/thermal_zone0/temp", f"{temp_mc}\n")
    for cpu in range(4):
        base = f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        write(root, f"{base}/scaling_cur_freq", f"{freq_khz}\n")
        write(root, f"{base}/cpuinfo_max_freq", "1800000\n")
        write(root, f"{base}/scaling_governor", "ondemand\n")
    write(root, "proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\x00")
    write(root, "proc/meminfo", "MemTotal:        3884084 kB\nMemFree:  100 kB\nMemAvailable:    3012340 kB\n")
    write(root, "etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n')
    return root


def fake_command(folder: Path, name: str, output: str, code: int = 0) -> list[str]:
    script = folder / name
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return [str(script)]


@pytest.mark.parametrize("output,raw,flags,active", [
    ("throttled=0x0", 0, (), False),
    ("throttled=0x50005", 0x50005, ("under-voltage detected", "currently throttled", "under-voltage has occurred",
                                    "throttling has occurred"), True),
    ("throttled=0x80000", 0x80000, ("soft temperature limit has occurred",), False),  # only history
    ("throttled=0xE0000", 0xE0000, ("arm frequency capping has occurred", "throttling has occurred",
                                    "soft temperature limit has occurred"), False),
    ("throttled=0x8\n", 8, ("soft temperature limit active",), True),
])
def test_get_throttled_bits(output, raw, flags, active):
    t = parse_get_throttled(output)
    assert (t.raw, t.flags, t.active) == (raw, flags, active)
    assert t.as_dict()["raw"] == hex(raw)


def test_get_throttled_garbage():
    assert parse_get_throttled("error=1 error_msg=\"Command not registered\"") is None
    assert decode_throttled(0x2).flags == ("arm frequency capped",)


@pytest.mark.parametrize("output,name,mode", [
    ("NV Power Mode: MAXN\n0\n", "MAXN", 0),
    ("NVPM WARN: power mode is not set!\nNV Power Mode: 15W\n2\n", "15W", 2),
    ("NV Power Mode: 7W", "7W", None),
])
def test_nvpmodel(output, name, mode):
    p = parse_nvpmodel(output)
    assert (p.name, p.mode) == (name, mode)


def test_nvpmodel_garbage():
    assert parse_nvpmodel("nvpmodel: command failed") is None


def test_probe_reads_fake_pi(tmp_path):
    root = fake_pi(tmp_path / "root")
    vcgencmd = fake_command(tmp_path, "vcgencmd", "throttled=0x50005")
    probe = ThermalProbe(str(root), vcgencmd=vcgencmd, nvpmodel=None)
    assert probe.temperatures() == {"cpu-thermal": 61.3}
    assert probe.frequencies() == {0: 1500.0, 1: 1500.0, 2: 1500.0, 3: 1500.0}
    assert probe.max_frequencies()[3] == 1800.0
    assert probe.governors() == {0: "ondemand", 1: "ondemand", 2: "ondemand", 3: "ondemand"}
    sample = probe.sample(1.5)
    assert sample.cpu_temp_c == 61.3 and sample.mean_freq_mhz == 1500.0
    assert sample.throttle.active and "under-voltage detected" in sample.throttle.flags
    d = sample.as_dict()
    assert d["t"] == 1.5 and d["freqs_mhz"]["0"] == 1500.0 and d["throttle"]["raw"] == "0x50005"


def test_probe_on_a_machine_without_these_files(tmp_path):
    probe = ThermalProbe(str(tmp_path), vcgencmd=None, nvpmodel=None)
    s = probe.sample()
    assert (s.temps_c, s.freqs_mhz, s.throttle, s.cpu_temp_c, s.mean_freq_mhz) == ({}, {}, None, None, None)


def test_failing_or_missing_commands_are_not_errors(tmp_path):
    failing = fake_command(tmp_path, "vcgencmd", "VCHI initialization failed", code=255)
    probe = ThermalProbe(str(tmp_path), vcgencmd=failing, nvpmodel=[str(tmp_path / "absent")])
    assert probe.throttle() is None
    assert probe.power_mode() is None


def test_zone_choice_prefers_the_cpu(tmp_path):
    write(tmp_path, "sys/class/thermal/thermal_zone0/type", "acpitz\n")
    write(tmp_path, "sys/class/thermal/thermal_zone0/temp", "80000\n")
    write(tmp_path, "sys/class/thermal/thermal_zone1/type", "x86_pkg_temp\n")
    write(tmp_path, "sys/class/thermal/thermal_zone1/temp", "55000\n")
    write(tmp_path, "sys/class/thermal/thermal_zone2/temp", "garbage\n")
    s = ThermalProbe(str(tmp_path), vcgencmd=None, nvpmodel=None).sample()
    assert s.temps_c == {"acpitz": 80.0, "x86_pkg_temp": 55.0}
    assert s.cpu_temp_c == 55.0


def test_manifest_from_fake_jetson(tmp_path):
    root = fake_pi(tmp_path / "root")
    write(root, "proc/device-tree/model", "NVIDIA Jetson Orin Nano Developer Kit\x00")
    nvpmodel = fake_command(tmp_path, "nvpmodel", "NV Power Mode: 15W\n0")
    probe = ThermalProbe(str(root), vcgencmd=None, nvpmodel=nvpmodel)
    env = environment(probe=probe, runtime="litert", runtime_version="2.3.0", xnnpack=True, threads=[1, 2])
    assert env["board"] == "NVIDIA Jetson Orin Nano Developer Kit"
    assert env["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert env["cpu_governor"] == "ondemand"
    assert env["cpu_max_mhz"] == 1800.0
    assert env["memory_mb"] == {"total": 3793, "available": 2941}
    assert env["jetson_power_mode"] == {"name": "15W", "mode": 0}
    assert env["at_start"]["cpu_temp_c"] == 61.3
    assert (env["runtime"], env["runtime_version"], env["xnnpack"], env["threads"]) == ("litert", "2.3.0", True, [1, 2])
    assert set(env) >= {"python", "machine", "kernel", "cpu", "cores", "numpy"}


def test_os_release_and_memory_fall_back(tmp_path):
    assert os_release(str(tmp_path))  # platform's description when there is no os-release
    assert memory_mb(str(tmp_path)) == {}


def test_sustained_run_samples_the_fake_board(tmp_path, tiny_model):
    root = fake_pi(tmp_path / "root")
    # The fake board heats up: every vcgencmd call also bumps the temperature file.
    temp = root / "sys/class/thermal/thermal_zone0/temp"
    script = tmp_path / "vcgencmd"
    script.write_text(f"#!/bin/sh\nt=$(cat {temp}); echo $((t + 1000)) > {temp}\necho throttled=0x0\n")
    script.chmod(0o755)
    probe = ThermalProbe(str(root), vcgencmd=[str(script)], nvpmodel=None)
    result = run_sustained(str(tiny_model), 1, 1.0, probe, interval=0.2)
    assert 0.99 <= result.seconds < 1.5
    assert result.runs > 10
    assert 4 <= len(result.windows) <= 6
    assert result.burst_fps > 0 and result.steady_fps > 0
    assert result.temp_start_c == 61.3
    assert result.temp_max_c == pytest.approx(61.3 + len(result.windows))  # one bump per sample
    assert result.freq_min_mhz == 1500.0
    assert result.throttled is False
    assert [w["t"] for w in result.windows] == sorted(w["t"] for w in result.windows)
    assert all(w["throttle"]["raw"] == "0x0" and w["fps"] > 0 for w in result.windows)
    assert result.as_dict()["drop"] == pytest.approx(1 - result.steady_fps / result.burst_fps, abs=1e-3)


def test_sustained_reports_active_throttling(tmp_path, tiny_model):
    root = fake_pi(tmp_path / "root", freq_khz=600_000)
    probe = ThermalProbe(str(root), vcgencmd=fake_command(tmp_path, "vcgencmd", "throttled=0x4"), nvpmodel=None)
    result = run_sustained(str(tiny_model), 1, 0.3, probe, interval=0.1)
    assert result.throttled is True and result.freq_min_mhz == 600.0
