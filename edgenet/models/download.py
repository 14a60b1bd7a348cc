"""Safe downloads: stream to a temporary file, check the sha256, and only then extract one member.

Every failure is one ``DownloadError`` line that says what happened and what to do, and deletes what
it wrote: a wrong checksum, a truncated or interrupted body, an HTTP error, a stalled server (timeout),
an unreachable host (the offline message), and an archive with a member that is absolute, climbs out
with ``..``, or is a link or a device. The standard library does the work (urllib, tarfile, zipfile);
members are checked here rather than with tarfile's extraction filters, which need Python >= 3.12.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import urlsplit

from edgenet import __version__
from edgenet.errors import DownloadError

TIMEOUT_ENV = "EDGENET_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds without a byte before a download is given up
CHUNK = 1 << 16
PART_SUFFIX = ".part"

# progress(bytes_so_far, total_or_None); called at the start (0) and after every chunk
Progress = Callable[[int, Optional[int]], None]


def timeout_from_env() -> float:
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DownloadError(f"{TIMEOUT_ENV}={text!r} must be a number of seconds > 0")
    return value


def offline_hint(what: str) -> str:
    from edgenet.cache import cache_dir

    return (f"no internet here? set EDGENET_MODEL_MIRROR=URL to a server with the model files, or run "
            f"`edgenet models pull {what}` on a machine with internet and copy its models cache folder to "
            f"{cache_dir('models')}, or give the path of a .tflite file instead of the name")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def temp_path(folder: Path, stem: str) -> Path:
    """A new empty file in ``folder`` (same file system as the target, so a rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=PART_SUFFIX, dir=folder)
    os.close(fd)
    return Path(name)


@contextmanager
def removed_on_error(path: Path) -> Iterator[Path]:
    try:
        yield path
    except BaseException:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        raise


def _human(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def download(url: str, dest: Path, *, sha256: str | None, timeout: float, what: str,
             progress: Progress | None = None) -> None:
    """Write the body at ``url`` to ``dest`` (a temporary file the caller owns) and check its sha256.

    ``dest`` is deleted on any failure. ``what`` names the model in messages (for the offline hint).
    """
    host = urlsplit(url).netloc or url
    with removed_on_error(dest):
        request = urllib.request.Request(url, headers={"User-Agent": f"edgenet/{__version__}"})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked by the index)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}; check the model index entry or the mirror "
                                f"(EDGENET_MODEL_MIRROR), then pull again") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise DownloadError(f"{url}: no answer within {timeout:g} s; the server is down or too slow "
                                    f"(more time: {TIMEOUT_ENV}=SECONDS); {offline_hint(what)}") from None
            if urlsplit(url).scheme == "file":
                raise DownloadError(f"{url}: {getattr(reason, 'strerror', None) or reason}; fix the path in the "
                                    "model index") from None
            detail = getattr(reason, "strerror", None) or str(reason)
            raise DownloadError(f"cannot reach {host} ({detail}): {offline_hint(what)}") from None
        except (socket.timeout, TimeoutError):
            raise DownloadError(f"{url}: no answer within {timeout:g} s; the server is down or too slow "
                                f"(more time: {TIMEOUT_ENV}=SECONDS); {offline_hint(what)}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"{url}: connection failed ({exc}); pull again, or {offline_hint(what)}") from None
        with response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total = int(length) if length and length.isdigit() else None
            h = hashlib.sha256()
            got = 0
            if progress:
                progress(0, total)
            try:
                with open(dest, "wb") as out:
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
                        if progress:
                            progress(got, total)
            except (socket.timeout, TimeoutError):
                raise DownloadError(f"{url}: the download stalled after {_human(got)} (no data for {timeout:g} s); "
                                    f"nothing was kept; pull again (more time: {TIMEOUT_ENV}=SECONDS)") from None
            except http.client.IncompleteRead as exc:
                got += len(exc.partial)
                raise DownloadError(f"{url}: the download was cut off after {_human(got)} of "
                                    f"{_human(total) if total else 'an unknown size'}; nothing was kept; pull again") from None
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.filename is not None:  # our own disk, not the network
                    raise DownloadError(f"cannot write {exc.filename}: {exc.strerror}; free space or fix the "
                                        "cache folder's permissions (EDGENET_CACHE)") from None
                raise DownloadError(f"{url}: the download was interrupted after {_human(got)} ({exc}); "
                                    "nothing was kept; pull again") from None
        if total is not None and got != total:
            raise DownloadError(f"{url}: the download was cut off after {_human(got)} of {_human(total)}; "
                                "nothing was kept; pull again")
        if sha256 is not None and h.hexdigest() != sha256:
            raise DownloadError(f"{url}: checksum mismatch (sha256 {h.hexdigest()[:16]}…, the index pins "
                                f"{sha256[:16]}…): not the file the index names (a changed upload, a wrong mirror or "
                                "tampering); refused and deleted")


def _unsafe(name: str) -> str | None:
    """Why an archive member name is unsafe to have in an archive we open, or None."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "an absolute path"
    if ".." in norm.split("/"):
        return "a '..' path"
    return None


def _normalized(name: str) -> str:
    norm = name.replace("\\", "/")
    while norm.startswith("./"):
        norm = norm[2:]
    return norm


def _pick(names: list[str], member: str, archive_url: str) -> str:
    want = _normalized(member)
    exact = [n for n in names if _normalized(n) == want]
    if exact:
        return exact[0]
    if "/" not in want:  # the .tflite one folder down, when that is unambiguous
        by_base = [n for n in names if _normalized(n).rsplit("/", 1)[-1] == want]
        if len(by_base) == 1:
            return by_base[0]
    tflites = sorted(_normalized(n) for n in names if n.endswith(".tflite"))
    raise DownloadError(f"{archive_url}: no member {member!r} in the archive (.tflite files in it: "
                        f"{', '.join(tflites) or 'none'}); fix \"member\" in the model index")


def extract_member(archive: Path, kind: str, member: str, dest: Path, archive_url: str) -> None:
    """Copy one regular-file member of a verified archive to ``dest`` (deleted on failure).

    Every member is checked first: one absolute, ``..``, link or device member refuses the archive.
    """
    with removed_on_error(dest):
        try:
            if kind == "zip":
                with zipfile.ZipFile(archive) as zf:
                    infos = zf.infolist()
                    for info in infos:
                        why = _unsafe(info.filename)
                        mode = info.external_attr >> 16
                        if why is None and stat.S_ISLNK(mode):
                            why = "a link"
                        if why:
                            raise DownloadError(f"{archive_url}: refused: member {info.filename!r} is {why}; "
                                                "nothing was extracted or kept")
                    name = _pick([i.filename for i in infos if not i.is_dir()], member, archive_url)
                    with zf.open(name) as src, open(dest, "wb") as out:
                        _copy(src, out)
            else:
                with tarfile.open(archive, "r:*") as tar:
                    members = tar.getmembers()
                    for m in members:
                        why = _unsafe(m.name)
                        if why is None and (m.issym() or m.islnk()):
                            why = f"a link (to {m.linkname!r})"
                        elif why is None and not (m.isfile() or m.isdir()):
                            why = "a device or special file"
                        if why:
                            raise DownloadError(f"{archive_url}: refused: member {m.name!r} is {why}; "
                                                "nothing was extracted or kept")
                    name = _pick([m.name for m in members if m.isfile()], member, archive_url)
                    src = tar.extractfile(name)
                    assert src is not None  # a regular file, checked above
                    with src, open(dest, "wb") as out:
                        _copy(src, out)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise DownloadError(f"{archive_url}: not a readable {kind} archive ({exc}) although its checksum "
                                "matched; the index entry is wrong") from None
    with removed_on_error(dest):
        with open(dest, "rb") as f:
            head = f.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise DownloadError(f"{archive_url}: member {member!r} is not a TFLite model; fix \"member\" in the "
                                "model index")


def _copy(src, out) -> None:
    for chunk in iter(lambda: src.read(1 << 20), b""):
        out.write(chunk)
