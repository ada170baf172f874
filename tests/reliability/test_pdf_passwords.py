"""Encrypted PDFs (docs/reliability.md): an owner password alone does not stop reading, a user password does.

An owner password with an empty user password only restricts printing or editing in a viewer; every
viewer opens such a file without asking, so the index reads it too. A PDF that asks for a password to
open is skipped with a reason. The PDFs are made here: the test suite's minimal text PDF, encrypted by
pypdf's writer with each standard algorithm (AES needs the `cryptography` package, a dependency).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from index.build import build_index
from index.chunking import ChunkerSettings
from index.documents import load_file
from index.embedding import HashEmbedder
from index.store import IndexStore
from tests.index.test_documents import make_pdf

pytestmark = pytest.mark.reliability

ALGORITHMS = ("RC4-40", "RC4-128", "AES-128", "AES-256")
TEXT = "Quarterly report about pears"


def encrypted_pdf(algorithm: str, user_password: str, owner_password: str = "owner") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([TEXT, "Second page on plums"]))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert PdfReader(io.BytesIO(data)).is_encrypted
    return data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_owner_password_only_pdf_is_read(tmp_path: Path, algorithm: str) -> None:
    path = tmp_path / "restricted.pdf"
    path.write_bytes(encrypted_pdf(algorithm, user_password=""))
    result = load_file(path, tmp_path)
    assert result.skipped == []
    [doc] = result.documents
    assert doc.text.startswith(TEXT) and "plums" in doc.text
    assert doc.page_starts == (0, len(TEXT) + 2)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_pdf_needing_a_password_is_skipped_with_the_reason(tmp_path: Path, algorithm: str) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(algorithm, user_password="s3cret"))
    result = load_file(path, tmp_path)
    assert result.documents == []
    [skip] = result.skipped
    assert skip.path == "locked.pdf" and skip.reason == "encrypted PDF: needs a password to open"


def test_build_index_reads_restricted_pdfs_and_skips_locked_ones(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "restricted.pdf").write_bytes(encrypted_pdf("AES-128", user_password=""))
    (src / "locked.pdf").write_bytes(encrypted_pdf("AES-256", user_password="s3cret"))
    (src / "plain.pdf").write_bytes(make_pdf(["A plain page about peaches"]))
    out = tmp_path / "idx"
    report = build_index(src, out, embedder=HashEmbedder(64), settings=ChunkerSettings(64, 8))
    assert [(s.path, s.reason) for s in report.skipped] == [("locked.pdf", "encrypted PDF: needs a password to open")]
    docs = {c.doc_id: c.text for c in IndexStore.open(out).chunks}
    assert set(docs) == {"plain.pdf", "restricted.pdf"} and "pears" in docs["restricted.pdf"]


def test_aes_without_a_crypto_backend_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should `cryptography` be absent, the skip line names it instead of calling the file broken."""
    import pypdf._encryption as encryption
    from pypdf._crypt_providers import _fallback

    path = tmp_path / "restricted.pdf"
    path.write_bytes(encrypted_pdf("AES-128", user_password=""))
    for name in ("CryptAES", "aes_cbc_decrypt", "aes_cbc_encrypt", "aes_ecb_decrypt", "aes_ecb_encrypt"):
        monkeypatch.setattr(encryption, name, getattr(_fallback, name))
    [skip] = load_file(path, tmp_path).skipped
    assert skip.reason == "encrypted PDF: AES decryption needs the 'cryptography' package"
