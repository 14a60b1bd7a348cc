"""Why a board's compiled package (picamera2 and its simplejpeg, OpenCV, an interpreter) does not import,
said in one line with the fix.

The usual cause on a board is not a missing package but a mix: apt's picamera2 and OpenCV are built
against the system's numpy (1.24 on Raspberry Pi OS Bookworm, 1.21 on JetPack 6), and a numpy 2 in
the venv shadows it (``ValueError: numpy.dtype size changed``, ``numpy.core.multiarray failed to
import``, ``_ARRAY_API not found``). The rest: the package is not installed, a venv made without
``--system-site-packages`` does not see apt's packages, or a system library is missing.
"""

from __future__ import annotations

import os
import sys

from edgenet.board.facts import venv_config

NUMPY_ABI_SIGNS = ("numpy.dtype size changed", "multiarray failed to import", "_ARRAY_API not found",
                   "compiled using NumPy 1.x", "numpy.core._multiarray_umath", "binary incompatibility")
REINSTALL = ("reinstall with this board's set: python3 -m edgenet.cli.requirements > board.txt && "
             ".venv/bin/pip install -r board.txt")

# What apt calls the package of each import on Raspberry Pi OS / Debian / Ubuntu.
APT_PACKAGES = {"picamera2": "python3-picamera2", "libcamera": "python3-libcamera", "cv2": "python3-opencv",
                "simplejpeg": "python3-simplejpeg"}


def numpy_in_use() -> str:
    """'numpy 2.2.6 (this venv)' / 'numpy 1.24.2 (the system's)': the numpy this process imports, found
    without importing it (an import may be what failed)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("numpy")
    except PackageNotFoundError:
        return "no numpy"
    return f"numpy {dist.version} ({origin(str(dist.locate_file('')))})"


def origin(path: str) -> str:
    """Where a module lives: this venv, the system (apt), the user's site, or elsewhere."""
    path = os.path.realpath(path)
    if sys.prefix != sys.base_prefix and path.startswith(os.path.realpath(sys.prefix) + os.sep):
        return "this venv"
    if "/dist-packages" in path and path.startswith(("/usr/", "/opt/")):
        return "the system's, apt"
    if path.startswith(os.path.realpath(sys.base_prefix) + os.sep):
        return "the system's"
    if path.startswith(os.path.expanduser("~") + os.sep):
        return "the user's site"
    return path


def is_numpy_abi_clash(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(sign in text for sign in NUMPY_ABI_SIGNS)


def explain_import_failure(module: str, exc: BaseException, what: str | None = None) -> str:
    """One line: what failed, the cause, and the fix."""
    cause, fix = import_failure(module, exc, what)
    return f"{cause}: {fix}"


def import_failure(module: str, exc: BaseException, what: str | None = None) -> tuple:
    """(what failed and why, the fix)."""
    what = what or module
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    apt = APT_PACKAGES.get(module.split(".")[0])
    if is_numpy_abi_clash(exc):
        return (f"{what} does not import with {numpy_in_use()}: a numpy ABI clash ({first})",
                "apt's packages are built against the system's numpy, so the venv must use that one: "
                f".venv/bin/pip uninstall numpy (the system's then shows through), or {REINSTALL}")
    if isinstance(exc, ModuleNotFoundError):
        missing = (exc.name or module).split(".")[0]
        if missing != module.split(".")[0] and missing in APT_PACKAGES:
            return f"{what} needs {missing}, which is not installed", f"sudo apt install {APT_PACKAGES[missing]}"
        in_venv = sys.prefix != sys.base_prefix
        if apt and in_venv and not _sees_system_packages():
            return (f"{what} is not importable: this venv was made without --system-site-packages, so it does not "
                    f"see apt's {apt}", "make it again with python3 -m venv --system-site-packages")
        if apt:
            return f"{what} is not installed", f"sudo apt install {apt}" + (
                " (and make the venv with --system-site-packages so it sees it)" if in_venv else "")
        return f"{what} is not installed ({first})", REINSTALL
    reinstall = f"sudo apt install --reinstall {apt}" if apt else REINSTALL
    if isinstance(exc, ImportError) and ".so" in first:
        return f"{what} does not import, a system library is missing or broken ({first})", reinstall
    return f"{what} does not import ({type(exc).__name__}: {first})", reinstall


def _sees_system_packages() -> bool:
    return venv_config().get("include-system-site-packages", "true").lower() == "true"


# The board's compiled packages, by import name, and what they are to a user.
BOARD_PACKAGES = {"cv2": "OpenCV (cv2)", "numpy": "numpy", "ai_edge_litert": "LiteRT (ai-edge-litert)",
                  "tflite_runtime": "tflite-runtime", "picamera2": "the Pi camera (picamera2)",
                  "simplejpeg": "simplejpeg (picamera2's JPEG)", "libcamera": "libcamera"}


def board_import_failure(exc: BaseException) -> str | None:
    """The one-line explanation when ``exc`` is one of the board's compiled packages failing to import
    (found by its name or in the traceback), else None (a bug of ours stays a traceback)."""
    names = []
    if isinstance(exc, ImportError) and exc.name:
        names.append(exc.name.split(".")[0])
    tb = exc.__traceback__
    while tb is not None:
        parts = tb.tb_frame.f_code.co_filename.replace(os.sep, "/").split("/")
        names += [p.split(".")[0] for p in parts if p.split(".")[0] in BOARD_PACKAGES]
        tb = tb.tb_next
    found = [n for n in names if n in BOARD_PACKAGES]
    if not found and is_numpy_abi_clash(exc):
        return explain_import_failure("numpy", exc, "a compiled package")
    if not found or not (isinstance(exc, ImportError) or is_numpy_abi_clash(exc)):
        return None
    module = found[-1] if found[-1] != "numpy" or len(set(found)) == 1 else next(n for n in reversed(found) if n != "numpy")
    if isinstance(exc, ModuleNotFoundError) and module in ("cv2", "ai_edge_litert", "tflite_runtime", "numpy"):
        return (f"{BOARD_PACKAGES[module]} is not installed: install this board's set "
                "(python3 -m edgenet.cli.requirements > board.txt && .venv/bin/pip install -r board.txt)")
    return explain_import_failure(module, exc, BOARD_PACKAGES[module])
