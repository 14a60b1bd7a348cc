"""The one function that decides what pip installs for edgenet on a board: ``board_requirements``.

It reads the board's facts (``edgenet.board.facts``, gathered on the board) and returns the
requirement set with the reason for each line. ``edgenet deploy`` (online and with ``--offline``'s
wheelhouse) installs exactly this set; ``python3 -m edgenet.cli.requirements`` prints it on the board
for an install by hand; ``edgenet doctor`` compares it with what is installed.

The rules, from the package index and the boards' archives:

- the TFLite interpreter by the userland's architecture and Python: LiteRT (``ai-edge-litert``) has
  wheels for aarch64 and x86_64, Python 3.9-3.14; 32-bit ARM has only ``tflite-runtime``, frozen at
  2.14.0 (Python 3.8-3.11, glibc >= 2.34) and 2.13.0 (Python 3.8-3.10, any glibc >= 2.17), numpy < 2.
  ARMv6 (Pi Zero/Zero W, Pi 1) has no interpreter wheel at all, nor has 32-bit ARM past Python 3.11.
- numpy is held to the system's when the system's picamera2 or OpenCV (apt) is used: they are built
  against it, and a numpy 2 in the venv breaks them (``ValueError: numpy.dtype size changed``). When
  the interpreter needs a newer numpy than the system's 1.x, a newer 1.x is taken (extension modules
  built against an older numpy 1 work with a newer numpy 1, not with numpy 2).
- OpenCV: pip's ``opencv-python-headless`` on aarch64/x86_64 (< 4.12 when numpy stays below 2: 4.12
  and later need numpy 2); the system's (apt) where pip has no wheel (32-bit ARM) or lacks GStreamer
  (a Jetson: the CSI camera is a GStreamer pipeline).

Standard library only, like the facts: it runs before edgenet's dependencies are installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgenet.board.facts import BoardFacts

LITERT = "ai-edge-litert"
TFLITE = "tflite-runtime"
LITERT_MACHINES = ("aarch64", "x86_64")
LITERT_PYTHONS = ((3, 9), (3, 14))  # ai-edge-litert 2.3.0: cp310-cp314; 2.1.0 was the last with cp39
LITERT_NUMPY = "1.23.2"
TFLITE_NUMPY = {"2.14.0": "1.23.2", "2.13.0": "1.21.2"}  # the wheels' Requires-Dist
MIN_PYTHON = (3, 9)  # pyproject's requires-python
OPENCV = "opencv-python-headless"
OPENCV_NUMPY2 = "4.12"  # the first opencv-python release that needs numpy >= 2
# Every set ends with edgenet's own pure-Python dependencies (pyproject's [project] dependencies).
PURE = (("rich>=13", "tables and progress bars"), ("packaging>=22", "version checks in edgenet doctor"))
SIXTY_FOUR_BIT_OS = "the 64-bit Raspberry Pi OS (Bookworm or Trixie)"


@dataclass(frozen=True)
class Requirement:
    line: str  # what pip gets (PEP 508)
    why: str
    system: bool = False  # the system (apt) already provides it: pip finds it installed and installs nothing

    @property
    def name(self) -> str:
        for i, ch in enumerate(self.line):
            if not (ch.isalnum() or ch in "-_."):
                return self.line[:i]
        return self.line


@dataclass(frozen=True)
class RequirementSet:
    """What edgenet needs on one board. ``refusal`` (nothing can work here) and ``apt`` (system
    packages to install first) make it unusable until dealt with; ``problem`` says so in one line."""

    facts: BoardFacts
    interpreter: str | None
    requirements: tuple = ()
    apt: tuple = ()  # (package, why)
    notes: tuple = ()
    refusal: str | None = None

    @property
    def lines(self) -> list:
        return [r.line for r in self.requirements]

    @property
    def system(self) -> dict:
        """{name: version} the system provides and the set holds (pip installs nothing for them)."""
        return {r.name: r.line.split("==", 1)[1] for r in self.requirements if r.system}

    @property
    def problem(self) -> str | None:
        if self.refusal:
            return self.refusal
        if self.apt:
            names = " ".join(p for p, _ in self.apt)
            return f"{'; '.join(why for _, why in self.apt)}: sudo apt install {names}, then install again"
        return None

    def describe_board(self) -> str:
        f = self.facts
        parts = [f.model or "unknown board", f.os_name or f.os_id or "unknown OS",
                 f"{f.machine} userland" + (f" on a {f.kernel_machine} kernel" if f.machine != f.kernel_machine else ""),
                 f"Python {f.python}", f"{f.libc or 'libc'} {f.libc_version or 'unknown'}"]
        return ", ".join(parts)

    def text(self) -> str:
        """A pip requirements file, each line with its reason."""
        out = [f"# edgenet on {self.describe_board()}",
               "# chosen on the board by edgenet.board.requirements; install with: pip install -r THIS_FILE"]
        out += [f"# note: {n}" for n in self.notes]
        width = max((len(r.line) for r in self.requirements), default=0)
        out += [f"{r.line:<{width}}  # {r.why}" for r in self.requirements]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict:
        return {"board": self.describe_board(), "machine": self.facts.machine, "python": self.facts.python,
                "interpreter": self.interpreter, "requirements": [{"line": r.line, "why": r.why, "system": r.system}
                                                                  for r in self.requirements],
                "apt": [{"package": p, "why": w} for p, w in self.apt], "notes": list(self.notes),
                "refusal": self.refusal, "problem": self.problem, "facts": self.facts.as_dict()}


def version_tuple(text: str) -> tuple:
    out = []
    for part in text.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def _py(v: tuple) -> str:
    return ".".join(map(str, v[:2]))


def refusal(facts: BoardFacts) -> str | None:
    """Why no interpreter wheel (or no edgenet) can be installed on this board, with what would work."""
    machine, py = facts.machine, facts.python_version[:2]
    where = f"Python {_py(py)} on {machine}"
    if facts.implementation != "CPython":
        return f"{facts.implementation} is not supported: the interpreter wheels are built for CPython (python3)"
    if facts.libc != "glibc":
        return (f"{facts.libc or 'this libc'} is not supported: the interpreter wheels need glibc "
                "(Raspberry Pi OS, Debian, Ubuntu, JetPack)")
    if machine == "armv6l":
        return ("no TFLite interpreter wheel exists for ARMv6 (Pi Zero/Zero W, Pi 1): use a Pi Zero 2 W or a Pi 3 "
                f"or newer with {SIXTY_FOUR_BIT_OS}")
    if machine not in LITERT_MACHINES + ("armv7l",):
        return f"no TFLite interpreter wheel for {machine}: edgenet runs on aarch64, x86_64 and 32-bit ARM (armv7l)"
    if py < MIN_PYTHON:
        jetpack = " (JetPack 5): upgrade to JetPack 6 (Python 3.10)" if facts.jetson else ": upgrade the OS"
        return f"edgenet needs Python >= {_py(MIN_PYTHON)}; this board has {_py(py)}{jetpack}"
    if machine in LITERT_MACHINES and py > LITERT_PYTHONS[1]:
        return f"{where}: {LITERT} has wheels for Python {_py(LITERT_PYTHONS[0])}-{_py(LITERT_PYTHONS[1])} only"
    if machine == "armv7l":
        if py > (3, 11):
            return (f"{where}: no TFLite interpreter wheel for 32-bit ARM past Python 3.11 ({TFLITE} stops at 3.11, "
                    f"{LITERT} has no 32-bit ARM build): install {SIXTY_FOUR_BIT_OS}")
        if py == (3, 11) and version_tuple(facts.libc_version) < (2, 34):
            return (f"{where} with glibc {facts.libc_version}: {TFLITE} 2.14 (the only one for Python 3.11) "
                    f"needs glibc >= 2.34: install {SIXTY_FOUR_BIT_OS}")
    return None


def board_requirements(facts: BoardFacts) -> RequirementSet:
    """The requirement set for the board these facts describe (see the module's docstring)."""
    refused = refusal(facts)
    if refused:
        return RequirementSet(facts, None, refusal=refused)
    machine, py = facts.machine, facts.python_version[:2]
    reqs, apt, notes = [], [], []
    sees_system = facts.system_site_packages
    system_numpy = facts.system_numpy if sees_system else ""
    system_cv2 = facts.system_opencv if sees_system else ""
    picamera2 = facts.system_picamera2 if sees_system else ""
    if facts.system_picamera2 and not sees_system:
        notes.append("this venv does not see the system's packages, so not apt's picamera2: make it with "
                     "python3 -m venv --system-site-packages")

    # The interpreter.
    if machine in LITERT_MACHINES:
        interpreter, numpy_floor, numpy_below2 = LITERT, LITERT_NUMPY, False
        reqs.append(Requirement(f"{LITERT}>=1.2", f"the TFLite interpreter (LiteRT) for {machine}, Python {_py(py)}"))
    else:  # armv7l, Python 3.9-3.11 (refusal() turned everything else away)
        release = "2.14.0" if version_tuple(facts.libc_version) >= (2, 34) else "2.13.0"
        interpreter, numpy_floor, numpy_below2 = TFLITE, TFLITE_NUMPY[release], True
        why = (f"the TFLite interpreter for 32-bit ARM ({LITERT} has no armv7l build)"
               + ("" if release == "2.14.0" else f"; 2.14 needs glibc >= 2.34, this board has {facts.libc_version}"))
        reqs.append(Requirement(f"{TFLITE}=={release}", why))

    # OpenCV: which one, before numpy, since the system's OpenCV holds numpy too.
    use_system_cv2 = False
    if machine == "armv7l":
        if system_cv2:
            use_system_cv2 = True
        else:
            apt.append(("python3-opencv", "PyPI has no OpenCV wheel for 32-bit ARM; edgenet uses apt's"))
    elif facts.jetson:
        if system_cv2 and facts.system_opencv_gstreamer:
            use_system_cv2 = True
        else:
            notes.append("pip's OpenCV has no GStreamer, which a Jetson's CSI camera needs (USB cameras work): "
                         "sudo apt install nvidia-opencv (JetPack's OpenCV), then install again")

    # numpy.
    holders = [n for n, present in (("picamera2", picamera2), ("OpenCV", use_system_cv2)) if present]
    if holders and system_numpy and system_numpy != "unknown":
        held = version_tuple(system_numpy)
        what = " and ".join(f"apt's {n}" for n in holders)
        if held >= version_tuple(numpy_floor) and not (numpy_below2 and held >= (2,)):
            reqs.append(Requirement(f"numpy=={system_numpy}", f"the system's numpy: {what} are built against it, "
                                    "a different numpy in the venv breaks them", system=True))
        elif held < (2,):
            reqs.append(Requirement(f"numpy>={numpy_floor},<2", f"{interpreter} needs numpy >= {numpy_floor}, the "
                                    f"system has {system_numpy}; {what} work with a newer numpy 1, not with numpy 2"))
            if machine == "armv7l":
                notes.append("numpy for 32-bit ARM comes from piwheels (Raspberry Pi OS's pip uses it); "
                             "PyPI has no armv7l numpy")
        else:
            return RequirementSet(facts, interpreter, refusal=(
                f"the system's numpy {system_numpy} is numpy 2, but {interpreter} needs numpy < 2: "
                f"install {SIXTY_FOUR_BIT_OS}"))
    elif numpy_below2:
        reqs.append(Requirement(f"numpy>={numpy_floor},<2", f"{interpreter} is built against numpy 1"))
        if machine == "armv7l":
            notes.append("numpy for 32-bit ARM comes from piwheels (Raspberry Pi OS's pip uses it); "
                         "PyPI has no armv7l numpy")
    else:
        reqs.append(Requirement(f"numpy>={numpy_floor}", f"what {interpreter} needs"))

    if use_system_cv2:
        why = "JetPack's OpenCV (GStreamer, for the CSI camera)" if facts.jetson else "apt's OpenCV"
        notes.append(f"OpenCV: {why}, version {facts.system_opencv}; not from pip")
    elif machine in LITERT_MACHINES:
        numpy_line = next(r.line for r in reqs if r.name == "numpy")
        below2 = "<2" in numpy_line or (numpy_line.startswith("numpy==") and version_tuple(numpy_line[7:]) < (2,))
        if below2:
            reqs.append(Requirement(f"{OPENCV}>=4.8,<{OPENCV_NUMPY2}",
                                    f"OpenCV for numpy 1 ({OPENCV_NUMPY2} and later need numpy 2)"))
        else:
            reqs.append(Requirement(f"{OPENCV}>=4.8", "OpenCV (video, JPEG, resize)"))
    for line, why in PURE:
        reqs.append(Requirement(line, why))
    return RequirementSet(facts, interpreter, tuple(reqs), tuple(apt), tuple(notes))
