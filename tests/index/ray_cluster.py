"""A real Ray cluster for tests: `ray start --head` and a second `ray start --address` node, 1 CPU each, on a
loopback address, without dashboard or usage stats; stopped (with every process it started) at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.ray_engine import LOOPBACK

RAY = Path(sys.executable).parent / "ray"
START_SECONDS = 90.0
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class Cluster:
    address: str
    temp: Path
    nodes: tuple[subprocess.Popen[bytes], ...]

    def processes(self) -> dict[int, str]:
        """Every live process this cluster started (nodes, raylets, workers), with its command line."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found: dict[int, str] = {}
        todo = [p.pid for p in self.nodes]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError):
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            todo.extend(children.get(pid, []))
        return found

    def embed_workers(self) -> list[int]:
        return [pid for pid, cmd in self.processes().items() if cmd.startswith("ray::MapWorker(MapBatches(_Embed")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def _node(args: list[str], temp: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}  # the token is in os.environ (local_cluster)
    log = open(temp / f"{name}.log", "wb")  # noqa: SIM115 - the node writes to it until it stops
    cmd = [str(RAY), "start", "--block", f"--node-ip-address={LOOPBACK}", "--num-cpus=1", "--disable-usage-stats"]
    cmd += args
    # Its own process group, so that stopping it stops what it started, and nothing else.
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(what: str, ready: Any, nodes: list[subprocess.Popen[bytes]], temp: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        dead = [p for p in nodes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f.read_text(errors="replace")[-2000:] for f in temp.glob("*.log"))
            raise RuntimeError(f"the Ray cluster did not come up ({what}):\n{logs}")
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _joined(ray: Any, address: str) -> bool:
    """Connect this process as a driver; the head listens a moment before it accepts one."""
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except ConnectionError:
        return False
    return True


@contextlib.contextmanager
def local_cluster() -> Iterator[Cluster]:
    """Two nodes of 1 CPU each; this process is connected to it as a Ray driver while it runs."""
    # Ray's gRPC servers listen on every interface: a random token keeps anyone else from joining or running
    # code, and given in the environment it is written to no file (~/.ray/auth_token is the default). Set
    # before this process first imports Ray, which reads it then.
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    import ray

    # Short: Ray's unix sockets live under it, and their paths may not exceed 107 bytes.
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    port = free_port()
    head = _node(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"], temp, "head")
    nodes = [head]
    cluster = Cluster(f"{LOOPBACK}:{port}", temp, (head,))
    try:
        _wait("head", lambda: _listening(port), nodes, temp)
        nodes.append(_node([f"--address={cluster.address}"], temp, "node2"))
        cluster = Cluster(cluster.address, temp, tuple(nodes))
        _wait("driver", lambda: _joined(ray, cluster.address), nodes, temp)
        _wait("second node", lambda: ray.cluster_resources().get("CPU", 0) >= 2, nodes, temp)
        yield cluster
    finally:
        _stop(cluster, nodes)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.update({key: value})


def _stop(cluster: Cluster, nodes: list[subprocess.Popen[bytes]]) -> None:
    import ray

    ray.shutdown()
    started = cluster.processes()
    for node in reversed(nodes):  # the second node first: the head would wait for it to drain
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
        try:
            node.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait(STOP_SECONDS)
    # Workers start sessions of their own: any the nodes left behind is ended by the id seen above, if that
    # id still runs the same command (not a new process that was given a freed id).
    for pid, cmd in started.items():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip() == cmd:
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(cluster.temp, ignore_errors=True)
