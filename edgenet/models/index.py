"""The model index: which pretrained models ``edgenet`` can fetch, from where, and their checksums.

Built in: the 32 official MobileNet V1 models (Google, Apache-2.0), named like the project's variants —
``mobilenet_v1_050_160`` is the official quantization-aware trained 8-bit model (uint8 I/O) and
``mobilenet_v1_050_160_float`` its float32 sibling. Each is a .tgz holding ``<archive>.tflite`` beside
checkpoint files; the sha256 of every archive is pinned here and checked before anything is extracted.

``EDGENET_MODEL_INDEX=FILE`` replaces the built-in index with a JSON file (a company's own models)::

    {"default": "bird_feeder",                       # optional: the model run/eval use by default
     "models": [
       {"name": "bird_feeder",                       # filename-safe: letters, digits, . _ -
        "url": "https://models.example.com/bird_feeder_v3.tgz",   # http(s)://, file:// or a path
        "sha256": "<sha256 of the file at url>",
        "member": "bird_feeder_v3.tflite",           # the .tflite inside, when url is a .tgz/.tar/.zip
        "labels": "https://models.example.com/birds.txt",          # optional: URL, path or "imagenet"
        "labels_sha256": "<sha256 of the labels file>",            # optional, checked when given
        "top1": 81.5, "description": "12 garden birds"}]}          # optional

A relative path in ``url``/``labels`` is relative to the index file. A bare list of entries is accepted
too. ``EDGENET_MODEL_MIRROR=URL`` serves the same file names from another base URL (a board behind a
firewall, a LAN cache): only the folder of each URL changes, the pinned sha256 stays.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import pathname2url

from edgenet.errors import UsageError
from edgenet.variants import STANDARD_ALPHAS, STANDARD_RESOLUTIONS, Published, Variant

INDEX_ENV = "EDGENET_MODEL_INDEX"
MIRROR_ENV = "EDGENET_MODEL_MIRROR"
DEFAULT_MODEL = "mobilenet_v1_050_160"
IMAGENET_LABELS = "imagenet"  # a labels value meaning the ImageNet labels shipped in the package
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BASE = "https://storage.googleapis.com/download.tensorflow.org/models/"
_FIELDS = {"name", "url", "sha256", "member", "labels", "labels_sha256", "top1", "description"}


def packaged_labels() -> Path:
    """The 1001 ImageNet labels (line 0 ``background``) the official models expect, shipped with edgenet."""
    return Path(__file__).resolve().parent.parent / "data" / "imagenet_labels.txt"


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https", "file")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the index: a name, where its file is, and the sha256 that file must have."""

    name: str
    url: str
    sha256: str
    member: str | None = None  # the .tflite inside, when ``url`` is an archive
    labels: str | None = None  # URL, local path, or "imagenet"
    labels_sha256: str | None = None
    top1: float | None = None  # published ImageNet top-1, percent
    description: str = ""
    variant: Variant | None = None  # the MobileNet V1 variant, for the built-in models
    precision: str | None = None  # "int8" or "float32", when known
    # The tensors' own type when it differs from ``precision``'s name: Google's 2018 quantized models are
    # 8-bit like a full-integer int8 conversion, but uint8 (asymmetric, zero points 0..255, uint8 I/O).
    dtype: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"model name {self.name!r} is not filename-safe: use letters, digits, '.', '_' and '-'")
        if not is_url(self.url):
            raise UsageError(f"model {self.name}: url {self.url!r} must be http(s):// or file://")
        if not _SHA256.match(self.sha256):
            raise UsageError(f"model {self.name}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.labels is not None and self.labels != IMAGENET_LABELS and not is_url(self.labels):
            raise UsageError(f"model {self.name}: labels {self.labels!r} must be a URL or \"imagenet\"")
        if self.labels_sha256 is not None and not _SHA256.match(self.labels_sha256):
            raise UsageError(f"model {self.name}: labels_sha256 must be 64 lowercase hex digits")
        archive = self.archive_kind is not None
        if archive and not self.member:
            raise UsageError(f"model {self.name}: {self.url} is an archive; say which .tflite inside it is the model "
                             "with \"member\"")
        if not archive and self.member:
            raise UsageError(f"model {self.name}: \"member\" is only for .tgz/.tar/.zip archives, not {self.url}")
        if self.member is not None:
            parts = self.member.replace("\\", "/").split("/")
            if self.member.startswith(("/", "\\")) or ".." in parts:
                raise UsageError(f"model {self.name}: member {self.member!r} must be a relative path inside the archive")
        if self.top1 is not None and not 0 <= self.top1 <= 100:
            raise UsageError(f"model {self.name}: top1 is a percentage in [0, 100], got {self.top1}")

    @property
    def archive_kind(self) -> str | None:
        """"tar" or "zip" when the URL names an archive, else None (the URL is the .tflite itself)."""
        path = urlsplit(self.url).path.lower()
        if path.endswith(".zip"):
            return "zip"
        if path.endswith((".tgz", ".tar.gz", ".tar")):
            return "tar"
        return None

    @property
    def published(self) -> Published | None:
        return self.variant.published if self.variant is not None else None

    def download_url(self, mirror: str | None = None) -> str:
        """The URL to fetch: the index's, or the same file name under ``mirror``."""
        return mirrored(self.url, mirror)

    def labels_url(self, mirror: str | None = None) -> str | None:
        """Where the labels file is fetched from (None: no labels, or the packaged ImageNet labels)."""
        if self.labels is None or self.labels == IMAGENET_LABELS:
            return None
        return mirrored(self.labels, mirror)



def mirrored(url: str, mirror: str | None) -> str:
    """``url``'s file name under the ``mirror`` base URL (local file:// entries are not mirrored)."""
    if not mirror or urlsplit(url).scheme == "file":
        return url
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return mirror.rstrip("/") + "/" + name


def mirror_from_env() -> str | None:
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return None
    if urlsplit(mirror).scheme not in ("http", "https", "file"):
        raise UsageError(f"{MIRROR_ENV}={mirror!r} must be a base URL (http://, https:// or file://)")
    return mirror


@dataclass(frozen=True)
class ModelIndex:
    models: dict[str, ModelSpec]
    source: str  # "built-in" or the index file
    default: str = DEFAULT_MODEL

    def get(self, name: str) -> ModelSpec | None:
        return self.models.get(name)

    def require(self, name: str) -> ModelSpec:
        spec = self.models.get(name)
        if spec is None:
            close = [n for n in self.models if n.startswith(name[: max(len(name) - 4, 1)])][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"{name!r} is not in the model index ({self.source}){hint}; "
                             "`edgenet models list` shows the names")
        return spec

    def __iter__(self):
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


# (alpha, resolution) -> sha256 of the official archives, float32 (2018_02_22) then 8-bit (2018_08_02).
_FLOAT_SHA256 = {
    (1.0, 224): "1ccb74dbd9c5f7aea879120614e91617db9534bdfaa53dfea54b7c14162e126b",
    (1.0, 192): "ad683fb270cd1b0f49c820c4acf5fcbbfa546ae354b1345a4fff5f19f99d7c44",
    (1.0, 160): "1f612ebeda0e7e149897273c445b790ca8924a8a1488e6a61d36166a562fd89c",
    (1.0, 128): "d16f3102c1cb087eacf94c6a5abf0477767158fb891b2710409472bca4d988a8",
    (0.75, 224): "bf61b3ce7ca2d045bb35fa6ab9a68732e3531291266db4a8c7715227d7425657",
    (0.75, 192): "3d91d279cd06c055500aabdff8dfbd51a63797c7bb6b3f9a39e243f7c13997e9",
    (0.75, 160): "90b3f26406a89df489373358aa89d9db7bcb66d2400160f16f3687f79e4f66b2",
    (0.75, 128): "54a28065f6f230d0b71cf8fbbc50bbb89b4fdfada8e7e2a622da68b971d5ab97",
    (0.5, 224): "0eb9be8d18dcf9466a2a2d2157e71c83cd70dc168255d76d72bfe965318db725",
    (0.5, 192): "57c81cc48349d1079377f8cdeed3f017500aeb98a12f16c6ed2086a50848ecb6",
    (0.5, 160): "fb01b76ca1fb053e5f98d297e21c6c53d0d9f6a8b02ad2e88ac22b33b2adf729",
    (0.5, 128): "5a0def0d844327526385b110cdcaa6428d0828ff6d07515ef25bf3976e049d88",
    (0.25, 224): "eee166d4d1de004e2ee5de19a4f5045574d764ef59569dc284545f805a295074",
    (0.25, 192): "4889d7afabc31011f5218f6111532947ff7d5b6b9368afe1f152c67c6f30ea73",
    (0.25, 160): "8eb4540af0227e5e59849c41ca6da6f07e257cca887ec0f8cd33aeb46f1405cf",
    (0.25, 128): "34c52de7562259f66399993ef5ea222cc625d2e6f6f886a01fdc6cc99a0c7ee6",
}
_QUANT_SHA256 = {
    (1.0, 224): "d32432d28673a936b2d6281ab0600c71cf7226dfe4cdcef3012555f691744166",
    (1.0, 192): "b87b20c784e756fb52e265cc31fbea5b3236c9a001205bc24ed27985875b4559",
    (1.0, 160): "b5c9da0d5215a1c1faab313f88ba0a900ac199c7af45f559ab65c63b0649bee1",
    (1.0, 128): "29aec24c721329b83ff667195431ff9151362ba1854dfc8852d03aef5ac40def",
    (0.75, 224): "6c40604a53edb295e6fd72ead340759db63a2e4d930593610f4d09efe17aa9b7",
    (0.75, 192): "8dc64937bd9f35dcf8d3baa16b8eda47e2473c3af51641bf309d1ed2b1a355af",
    (0.75, 160): "ed023a21c1fbb062a4777056f79910aab6137c9a83655317020faed6ad0ca738",
    (0.75, 128): "14cd0b9c5cde26272c68ecc50de054979663e28fb1fd0348166d408a8b45538f",
    (0.5, 224): "f61c28ab322a3ef441341431d33732ef79dfbf03ebc00769c12e5843573b2e9c",
    (0.5, 192): "b3b7aca2599c9a09f7ebeb3f624fc51bc4897b9356950b67a5f11c65666dab3d",
    (0.5, 160): "036ff1a53180f844ee629ae5846c2b18dfa94371c51c44016c70dc9688a34d31",
    (0.5, 128): "0a5b18571d3df4d85a5ac6cb5be829d141dd5855243ea04422ca7d19f730a506",
    (0.25, 224): "be8131a23c93a83d7d0b1875ac34aa2e06319aef377f89dc6be2e8f10a0589ca",
    (0.25, 192): "33f4ca5c5c7fb70f81a23ec06a884482ddcf5d26e32e4211781e110afb7a0877",
    (0.25, 160): "8aba0b905df472d994c1d923efa743c7dfe182df579e0440b8e78c8f714ddc98",
    (0.25, 128): "40230cd1a429a20cfd648f08f72b6d554ca8f4bff838341cb8210bd167962c0e",
}


def official_archive(variant: Variant, precision: str) -> str:
    """Google's archive name: ``mobilenet_v1_0.5_160_quant`` / ``mobilenet_v1_0.5_160``."""
    alpha = f"{variant.alpha:.2f}".rstrip("0").rstrip(".") if variant.alpha != 1.0 else "1.0"
    return f"mobilenet_v1_{alpha}_{variant.resolution}" + ("_quant" if precision == "int8" else "")


def index_name(variant: Variant, precision: str = "int8") -> str:
    """The index name of an official model: ``mobilenet_v1_050_160`` (int8) or ``..._float``."""
    return variant.name + ("" if precision == "int8" else "_float")


def _official(variant: Variant, precision: str) -> ModelSpec:
    archive = official_archive(variant, precision)
    folder = "mobilenet_v1_2018_08_02" if precision == "int8" else "mobilenet_v1_2018_02_22"
    sha = (_QUANT_SHA256 if precision == "int8" else _FLOAT_SHA256)[(variant.alpha, variant.resolution)]
    pub = variant.published
    top1 = pub.top1_quant if precision == "int8" else pub.top1_float
    kind = "8-bit, quantization-aware trained, uint8 I/O" if precision == "int8" else "float32"
    return ModelSpec(index_name(variant, precision), f"{_BASE}{folder}/{archive}.tgz", sha, f"{archive}.tflite",
                     IMAGENET_LABELS, None, top1, f"official MobileNet V1 {variant.alpha} / {variant.resolution} ({kind})",
                     variant, precision, "uint8" if precision == "int8" else "float32")


def builtin_index() -> ModelIndex:
    specs = [_official(Variant(a, r), p) for p in ("int8", "float32")
             for a in STANDARD_ALPHAS for r in STANDARD_RESOLUTIONS]
    return ModelIndex({s.name: s for s in specs}, "built-in")


def _resolve_location(value: str, base: Path) -> str:
    """Index values: URLs stay; a path becomes a file:// URL (relative to the index file)."""
    if is_url(value) or value == IMAGENET_LABELS:
        return value
    path = Path(os.path.expanduser(value))
    return "file://" + pathname2url(str(path if path.is_absolute() else (base / path).resolve()))


def _entry(raw: object, where: str, base: Path) -> ModelSpec:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: each model is a JSON object with name, url and sha256")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    missing = [k for k in ("name", "url", "sha256") if not isinstance(raw.get(k), str) or not raw.get(k)]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)} (each model needs name, url and sha256)")
    top1 = raw.get("top1")
    if top1 is not None and (isinstance(top1, bool) or not isinstance(top1, (int, float))):
        raise UsageError(f"{where}: top1 must be a number (percent)")
    name = raw["name"]
    from edgenet.variants import variant_from_model_name

    variant = variant_from_model_name(name)
    labels = raw.get("labels")
    return ModelSpec(name, _resolve_location(raw["url"], base), raw["sha256"].lower(), raw.get("member"),
                     _resolve_location(labels, base) if isinstance(labels, str) else None,
                     raw.get("labels_sha256"), float(top1) if top1 is not None else None,
                     str(raw.get("description", "")), variant, None)


def load_index_file(path: str | os.PathLike) -> ModelIndex:
    where = f"{INDEX_ENV}={path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{where}: file not found; point it at a JSON model index or unset it") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not a JSON model index ({exc})") from None
    default = None
    if isinstance(data, dict):
        extra = sorted(set(data) - {"models", "default"})
        if extra or not isinstance(data.get("models"), list):
            raise UsageError(f"{where}: expected {{\"models\": [...], \"default\": NAME}} or a list of models")
        default, entries = data.get("default"), data["models"]
    elif isinstance(data, list):
        entries = data
    else:
        raise UsageError(f"{where}: expected {{\"models\": [...]}} or a list of models")
    base = Path(path).resolve().parent
    specs: dict[str, ModelSpec] = {}
    for i, raw in enumerate(entries):
        spec = _entry(raw, f"{where}: model {i + 1}", base)
        if spec.name in specs:
            raise UsageError(f"{where}: model name {spec.name!r} appears twice")
        specs[spec.name] = spec
    if not specs:
        raise UsageError(f"{where}: the index lists no models")
    if default is not None and default not in specs:
        raise UsageError(f"{where}: default {default!r} is not one of its models")
    if default is None:
        default = DEFAULT_MODEL if DEFAULT_MODEL in specs else next(iter(specs))
    return ModelIndex(specs, str(path), default)


def load_index() -> ModelIndex:
    """``EDGENET_MODEL_INDEX`` when set, else the built-in index of the 32 official models."""
    path = os.environ.get(INDEX_ENV, "").strip()
    return load_index_file(path) if path else builtin_index()
