"""Write the corpus of `eval/sets/similar_docs.jsonl`: twelve package descriptions copied byte for byte.

    python -m eval.sets.similar_docs.build_corpus DIR [--site-packages PATH] [--allow-mismatch]

The documents are the `METADATA` files (core metadata headers, then the long description: README,
often a changelog) of twelve packages installed in the project's virtual environment. They were chosen as
near duplicates: `httpcore` 1.0.9 and its fork `httpcore2` 2.17.0 (which carries httpcore's whole
changelog), `httpx` 0.29.0 and its fork `httpx2` 2.17.0, the ASGI family (`starlette`, `uvicorn`,
`sse-starlette`, `fastapi`, `typer`, several by the same authors and in the same layout), and three long
README + changelog documents (`python-dotenv`, `charset-normalizer`, `pytest-timeout`).

`manifest.json` beside this file records each package's name, version, dist-info folder, output file
name, size and SHA-256. A file on this machine that is missing or differs is reported and nothing is
written, unless --allow-mismatch (then the differing files are copied as they are and listed).
`--record` rewrites the manifest from the files found (after choosing new packages or versions).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().with_name("manifest.json")


class CorpusError(RuntimeError):
    """A METADATA file is missing or differs from the manifest."""


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    dist_info: str
    file: str
    sha256: str
    bytes: int
    license: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def default_site_packages() -> Path:
    """The running interpreter's site-packages (the project's .venv when run with .venv/bin/python)."""
    return Path(sysconfig.get_paths()["purelib"])


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Entry(**item) for item in data["documents"]]


def source_path(entry: Entry, site_packages: Path) -> Path:
    return site_packages / entry.dist_info / "METADATA"


def check(entries: Sequence[Entry], site_packages: Path) -> list[str]:
    """One message per file that is missing or differs from the manifest; empty when all match."""
    problems = []
    for entry in entries:
        path = source_path(entry, site_packages)
        if not path.is_file():
            problems.append(f"{entry.name} {entry.version}: {path} is missing")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry.sha256:
            problems.append(f"{entry.name} {entry.version}: {path} differs (sha256 {digest}, expected {entry.sha256})")
    return problems


def build(
    out: Path,
    site_packages: Path | None = None,
    *,
    allow_mismatch: bool = False,
    entries: Sequence[Entry] | None = None,
) -> list[Path]:
    """Copy every manifest file into `out` under its recorded name; the paths written."""
    site = site_packages or default_site_packages()
    chosen = list(entries) if entries is not None else load_manifest()
    problems = check(chosen, site)
    missing = [p for p in problems if p.endswith("is missing")]
    if missing or (problems and not allow_mismatch):
        raise CorpusError("; ".join(problems) + ("" if missing else " (rerun with --allow-mismatch to build anyway)"))
    out.mkdir(parents=True, exist_ok=True)
    names = {e.file for e in chosen}
    strangers = sorted(p.name for p in out.iterdir() if p.name not in names)
    if strangers:
        raise CorpusError(f"{out} holds other files ({', '.join(strangers[:5])}); give an empty or new folder")
    written = []
    for entry in chosen:
        path = out / entry.file
        path.write_bytes(source_path(entry, site).read_bytes())
        written.append(path)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return written


def _license(text: str) -> str:
    for key in ("License-Expression: ", "License: "):
        for line in text.splitlines():
            if line.startswith(key):
                return line[len(key) :].strip()
            if not line.strip():
                break
    return ""


def record(site_packages: Path, path: Path = MANIFEST) -> list[Entry]:
    """Rewrite the manifest's versions, sizes, hashes and licences from the installed files of its packages."""
    entries = []
    for old in load_manifest(path):
        found = sorted(site_packages.glob(old.dist_info.split("-")[0] + "-*.dist-info"))
        if len(found) != 1:
            raise CorpusError(f"{old.name}: expected one installed dist-info, found {[f.name for f in found]}")
        data = (found[0] / "METADATA").read_bytes()
        version = found[0].name[len(old.dist_info.split("-")[0]) + 1 : -len(".dist-info")]
        suffix = Path(old.file).suffix
        entries.append(
            Entry(
                name=old.name,
                version=version,
                dist_info=found[0].name,
                file=f"{old.name}-{version}{suffix}",
                sha256=hashlib.sha256(data).hexdigest(),
                bytes=len(data),
                license=_license(data.decode("utf-8")),
            )
        )
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["documents"] = [e.to_json() for e in entries]
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sets.similar_docs.build_corpus",
        description="Copy the package descriptions the similar-documents questions are asked over.",
    )
    parser.add_argument("out", nargs="?", help="folder to write the documents to (new or empty)")
    parser.add_argument("--site-packages", help="where the dist-info folders are (default: this interpreter's)")
    parser.add_argument("--allow-mismatch", action="store_true", help="copy files that differ from the manifest")
    parser.add_argument("--record", action="store_true", help="rewrite manifest.json from the installed files")
    args = parser.parse_args(argv)
    site = Path(args.site_packages) if args.site_packages else default_site_packages()
    try:
        if args.record:
            entries = record(site)
            print(f"{len(entries)} packages recorded in {MANIFEST}")
            return 0
        if not args.out:
            parser.error("give the folder to write the documents to")
        written = build(Path(args.out), site, allow_mismatch=args.allow_mismatch)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = sum(p.stat().st_size for p in written)
    print(f"{len(written)} package descriptions, {total:,} bytes -> {args.out}")
    print(f"index them with: rag index {args.out} --index INDEX_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
