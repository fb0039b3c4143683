"""Reading a learner's files safely: a size cap, regular files only, nothing outside the folder.

The grader parses learner files in its own process (``ast.parse``, YAML, notebooks), and a
parse costs far more memory than the file: ``ast.parse`` of 1 MB of Python holds ~250 MB.
So a file over its cap is refused before it is read, with a one-line message naming it. A
FIFO or device would block or never end, a symlink loop or a link to a file outside the
folder is the learner's mistake: each is refused the same way, never a grader traceback.

``ProjectFiles.root`` is a ``LearnerPath``: every path derived from it (``/``, ``glob``,
``rglob``, ``iterdir``) is one too, so ``path.read_text()`` in any criterion is checked
without the criterion doing anything.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from pathlib import Path

from grader.checks.files import StaticError

# Generous: the course's largest app file is 15 KB, its largest notebook 50 KB.
MAX_FILE_BYTES = int(os.environ.get("GRADER_MAX_FILE_BYTES", 1_000_000))
MAX_SOURCE_BYTES = int(os.environ.get("GRADER_MAX_SOURCE_BYTES", 256_000))  # .py: parsed with ast
MAX_NOTEBOOK_BYTES = int(os.environ.get("GRADER_MAX_NOTEBOOK_BYTES", 20_000_000))  # outputs, images


class LearnerFileError(StaticError, AssertionError):
    """A learner's file the grader will not read; the message says which and why.

    An AssertionError too, so a criterion that does not catch it fails (the learner's
    problem) rather than erring (the grader's)."""


def cap_for(path: Path | str) -> int:
    suffix = Path(path).suffix.lower()
    return MAX_SOURCE_BYTES if suffix == ".py" else MAX_NOTEBOOK_BYTES if suffix == ".ipynb" else MAX_FILE_BYTES


def size_text(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} KB" if n >= 1000 else f"{n} bytes"


_KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFSOCK: "a socket"}


def check_readable(path: Path | str, shown: str | None = None, cap: int | None = None,
                   root: Path | str | None = None) -> None:
    """Raise LearnerFileError unless ``path`` is a regular file within its cap (and inside
    ``root``, once links are followed). A missing file or a directory raise their usual OSError."""
    shown = shown or str(path)
    if root is not None:
        real, top = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([real, top]) != top and os.path.lexists(path):
            raise LearnerFileError(f"{shown} is a link to {real}, outside the project folder: "
                                   "the grader reads only files inside it; copy the file in instead")
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LearnerFileError(f"{shown} is a symbolic link that loops (it points back to itself): "
                                   "remove it or point it at a real file") from None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            raise LearnerFileError(f"{shown} is a symbolic link to {os.readlink(path)}, which does not exist: "
                                   "remove it or point it at a real file") from None
        if exc.errno == errno.EACCES:
            raise LearnerFileError(f"{shown} cannot be read (permission denied): check its permissions") from None
        raise
    if stat.S_ISDIR(st.st_mode):
        return  # reading it raises IsADirectoryError, which callers already expect
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise LearnerFileError(f"{shown} is {kind}, not a file: the grader reads only regular files")
    cap = cap_for(path) if cap is None else cap
    if st.st_size > cap:
        raise LearnerFileError(f"{shown} is {size_text(st.st_size)}, over the grader's {size_text(cap)} limit "
                               f"for one file{_ADVICE.get(Path(path).suffix.lower(), '')}")


_ADVICE = {".py": ": keep data out of the source (load it at run time) or split the file",
           ".ipynb": ": clear its outputs (Edit > Clear Outputs of All Cells) and save it"}


class LearnerPath(type(Path())):  # PosixPath (WindowsPath): subclassing Path itself needs 3.12
    """A path in the graded folder whose reads go through ``check_readable`` first."""

    _learner_root: str = ""  # set on the per-folder subclass made by learner_root()

    def open(self, mode="r", *args, **kwargs):
        if not set(mode) & set("wax+"):
            check_readable(self, self._shown(), root=self._learner_root or None)
        return super().open(mode, *args, **kwargs)

    def _shown(self) -> str:
        if self._learner_root:
            with_root = os.path.relpath(self, self._learner_root)
            if not with_root.startswith(".."):
                return with_root
        return str(self)


@functools.lru_cache(maxsize=64)
def learner_root(root: Path | str) -> Path:
    """``root`` as a LearnerPath: everything read below it is checked, and named relative to it."""
    cls = type("LearnerPath", (LearnerPath,), {"_learner_root": os.path.realpath(root)})
    return cls(root)


def read_text(path: Path | str, shown: str | None = None, cap: int | None = None) -> str:
    """A learner's text file (UTF-8, undecodable bytes replaced), refused over ``cap``."""
    cap = cap_for(path) if cap is None else cap
    check_readable(path, shown, cap)
    with open(path, "rb") as f:
        data = f.read(cap + 1)  # never more than the cap, even if the file grew since
    if len(data) > cap:
        raise LearnerFileError(f"{shown or path} is over the grader's {size_text(cap)} limit for one file")
    return data.decode("utf-8", errors="replace")
