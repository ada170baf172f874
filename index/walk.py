"""Listing a corpus folder: regular files, hidden ones left out, and symbolic links kept inside the folder."""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from pathlib import Path

from index.types import SkippedFile

OUTSIDE_CORPUS = "points outside the corpus folder"
_LINK_LOOP = "symbolic link loop"
_BROKEN_LINK = "broken symbolic link (its target does not exist)"
_MAX_LINKS = 40  # links followed for one path before it counts as a loop, as Linux's MAXSYMLINKS


def list_files(
    root: Path, base: Path | None = None, *, follow_links: bool = False
) -> tuple[list[Path], list[SkippedFile]]:
    """The regular files under `root` (or `root` itself), sorted, hidden ones left out; and the symbolic
    links left out, each with its reason, named as `relative_id(path, base)` (`base` defaults to `root`).

    A link is followed only to a target inside `root`, and even then not indexed under its own name: the
    target is read under its real path (so a link never duplicates a document), the link gets a skip line.
    A link leading outside `root` is skipped with OUTSIDE_CORPUS without looking at its target (nothing
    outside `root` is opened, listed or stat'ed) and a folder link leading outside is not descended into;
    loops and broken links get a skip line too. `follow_links=True` follows links outside on purpose: such a
    target is indexed under the link's path, once however many links lead to it.
    """
    if not root.is_dir():
        return ([root] if root.is_file() else []), []
    walk = _Walk(root, root if base is None else base, follow_links)
    walk.folder(root, walk.real_root, ())
    return sorted(walk.files.values()), walk.skipped


class _Walk:
    def __init__(self, root: Path, base: Path, follow_links: bool) -> None:
        self.root, self.base, self.follow_links = root, base, follow_links
        self.real_root = root.resolve()
        self.files: dict[Path, Path] = {}  # real path -> the path it is listed under
        self.folders: dict[Path, Path] = {}  # real path of a folder entered through a link -> that link
        self.skipped: list[SkippedFile] = []

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(SkippedFile(relative_id(path, self.base), reason))

    def folder(self, path: Path, real: Path, stack: tuple[Path, ...]) -> None:
        """List `path` (real path `real`); `stack` holds the real folders being listed around it."""
        stack = (*stack, real)
        try:
            with os.scandir(real) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            self.skip(path, f"unreadable folder: {exc.strerror or exc}")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                self.link(path / entry.name, real / entry.name, stack)
            elif entry.is_dir(follow_symlinks=False):
                self.folder(path / entry.name, real / entry.name, stack)
            elif entry.is_file(follow_symlinks=False):
                self.files.setdefault(real / entry.name, path / entry.name)

    def link(self, path: Path, at: Path, stack: tuple[Path, ...]) -> None:
        """The link listed as `path`, really at `at`, inside the folders `stack`."""
        target = _resolve_link(at, self.real_root, self.follow_links)
        if isinstance(target, str):
            self.skip(path, target)
            return
        try:
            mode = os.stat(target).st_mode  # inside the root, or links are followed on purpose
        except OSError as exc:
            self.skip(path, _link_problem(exc))
            return
        inside = target.is_relative_to(self.real_root)
        known = self.folders if stat.S_ISDIR(mode) else self.files
        if stat.S_ISDIR(mode) and (target in stack or stack[-1].is_relative_to(target)):
            self.skip(path, f"{_LINK_LOOP} (to a folder that holds it)")
        elif not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            self.skip(path, "symbolic link to something that is neither a file nor a folder")
        elif inside:
            shown = relative_id(self.root / target.relative_to(self.real_root), self.base)
            self.skip(path, f"symbolic link to {shown}, already in the corpus folder")
        elif target in known:
            self.skip(path, f"symbolic link to the same target as {relative_id(known[target], self.base)}")
        elif stat.S_ISDIR(mode):
            self.folders[target] = path
            self.folder(path, target, stack)
        else:
            self.files[target] = path


def _resolve_link(link: Path, root: Path, follow_links: bool) -> Path | str:
    """The real path the link `link` leads to, or the reason it leads nowhere usable.

    Unless `follow_links`, nothing outside `root` is looked at: the path is resolved one part at a time
    and, as soon as it leaves `root`, the link is OUTSIDE_CORPUS wherever it would lead from there.
    """
    if follow_links:
        try:
            return Path(os.path.realpath(link, strict=True))
        except OSError as exc:
            return _link_problem(exc)
    current, parts, hops = link.parent, deque([link.name]), 0
    while parts:
        part = parts.popleft()
        if part.startswith("/") or part in ("", ".", ".."):
            current = Path("/") if part.startswith("/") else current.parent if part == ".." else current
            continue
        step = current / part
        if root.is_relative_to(step):  # `root` or a folder holding it: real already, `root` being resolved
            current = step
            continue
        if not step.is_relative_to(root):
            return OUTSIDE_CORPUS
        try:
            mode = os.lstat(step).st_mode
            if stat.S_ISLNK(mode):
                hops += 1
                parts.extendleft(reversed(Path(os.readlink(step)).parts))
        except OSError as exc:
            return _link_problem(exc)
        if hops > _MAX_LINKS:
            return _LINK_LOOP
        if not stat.S_ISLNK(mode):
            if parts and not stat.S_ISDIR(mode):
                return _BROKEN_LINK  # a file used as a folder
            current = step
    return current if current.is_relative_to(root) else OUTSIDE_CORPUS


def _link_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return _LINK_LOOP
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return _BROKEN_LINK
    return f"unreadable symbolic link: {exc.strerror or exc}"


def relative_id(path: Path, root: Path) -> str:
    base = root.parent if root.is_file() else root
    return path.relative_to(base).as_posix()


def read_inside(path: Path, boundary: Path | None) -> bytes:
    """The bytes of a file `list_files` found, refusing one swapped for a link since it was listed.

    Between the listing and the read a file, or a folder on its path, can be replaced by a link leading
    out of the corpus. So the path is opened one part at a time from `boundary` (a resolved folder; None
    when links are followed on purpose), each part without following links: nothing outside is opened.
    """
    if boundary is None or os.open not in os.supports_dir_fd:
        return path.read_bytes()
    parts = path.relative_to(boundary).parts
    fd = os.open(boundary, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            try:
                next_fd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise OSError(exc.errno, f"became a symbolic link while being indexed ({OUTSIDE_CORPUS}?)") from exc
                raise
            os.close(fd)
            fd = next_fd
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            return handle.read()
    finally:
        if fd >= 0:
            os.close(fd)
