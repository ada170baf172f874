"""`rag index --engine ray` refuses cleanly, before any model loads: without Ray, with stray options, with no
cluster at the address. The cluster itself is exercised in test_ray_cluster.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.ray_engine import ray_missing

ROOT = Path(__file__).resolve().parents[2]
# Runs `python -m index ARGS` as if Ray were not installed, then prints which heavy modules got loaded.
WITHOUT_RAY = """
import importlib.util, sys
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in ("ray", "pyarrow") else real(name, *a)
from index.cli import main
code = main(sys.argv[1:])
print(sorted(m for m in ("torch", "sentence_transformers", "ray", "faiss") if m in sys.modules))
sys.exit(code)
"""


def run(args: list[str], code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "index", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def corpus(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Alpha\n\nA line about alpha.", encoding="utf-8")
    return src


def test_without_ray_the_command_says_how_to_install_it_before_any_model_loads(tmp_path: Path) -> None:
    proc = run([str(corpus(tmp_path)), "--index", str(tmp_path / "idx"), "--engine", "ray"], WITHOUT_RAY)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: --engine ray needs Ray (with Ray Data), which is not installed. "
        "Install it: pip install -e '.[scale]'\n"
    )
    assert proc.stdout.strip() == "[]"
    assert not (tmp_path / "idx").exists()


def test_cluster_options_without_the_ray_engine_are_refused(tmp_path: Path) -> None:
    proc = run([str(corpus(tmp_path)), "--index", str(tmp_path / "idx"), "--workers", "2"])
    assert proc.returncode == 2
    assert proc.stderr == "error: --ray-address and --workers go with --engine ray\n"


@pytest.mark.skipif(ray_missing() is not None, reason="needs Ray: pip install -e '.[scale]'")
def test_no_cluster_at_the_address_is_one_error_line_and_no_version(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    args = [str(corpus(tmp_path)), "--index", str(idx), "--embedder", "hash", "--quiet", "--engine", "ray"]
    proc = run([*args, "--ray-address", "127.0.0.2:1"])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: No Ray cluster answers at 127.0.0.2:1")
    assert "Traceback" not in proc.stderr
    assert not any(p.name.startswith("v") for p in idx.iterdir())
