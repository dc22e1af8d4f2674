"""Everything the commands write: folders written whole or not at all, tables, figures, numbers.

`infogap run`, `sweep`, `analyze` and `churn` all write through here, so every
output folder is replaced atomically, every CSV has the same dialect, every
figure is byte-stable and every number is formatted the same way.

How an output folder is written (`AtomicFolder`): the target is checked and a
hidden sibling `.NAME.partial-PID-TOKEN` is created *before* any work starts
(so an unwritable `--out` is refused at once); the files go into that sibling,
which then takes the target's place:

- no old folder: one rename. A kill before it leaves the old state plus the
  hidden sibling; after it, the new folder.
- an old folder: the two are exchanged in one atomic step (Linux
  `renameat2(RENAME_EXCHANGE)`), then the sibling, now holding the old files,
  is removed. A kill at any moment leaves either the old or the new folder at
  the target, never none. Where the exchange is not supported, the old folder
  is renamed to `.NAME.old-PID-TOKEN` first; a kill between the two renames
  leaves the target missing and the old folder beside it, and the next write
  to that target puts it back before anything else.
- the next write to the same target removes hidden siblings left by a killed
  process (a live process's siblings are left alone).
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import UserError

#: The CSV dialect of every table: no index column, Unix line ends.
CSV = {"index": False, "lineterminator": "\n"}

#: Figure resolution of every PNG.
DPI = 110


# -- folders --------------------------------------------------------------------------------
class AtomicFolder:
    """An output folder written in full or not at all; see the module docstring.

    Create it before the work (it checks the target and makes the staging folder), write
    into `.staging`, then `commit()`; `discard()` (or an exception inside `with`) removes
    the staging folder and any parent folders it created.
    """

    def __init__(self, target: str | Path, *, option: str = "--out",
                 protect: Iterable[str | Path] = ()):
        self.shown = str(target)
        self.option = option
        self.target = _checked_target(Path(target), option, protect)
        self._created = _make_parents(self.target.parent, self._error)
        try:
            _tidy(self.target)
            self.staging = _new_sibling(self.target, "partial")
        except OSError as exc:
            self._remove_created()
            raise self._error(f"cannot write in {self.target.parent} "
                              f"({exc.strerror or exc})") from None
        self.committed = False

    def _error(self, detail: str) -> UserError:
        return UserError(f"{self.option} {self.shown}: {detail}")

    def commit(self) -> Path:
        retired = _swap_into_place(self.staging, self.target)
        self.committed = True
        if retired is not None:   # a kill here leaves it hidden; the next write removes it
            shutil.rmtree(retired, ignore_errors=True)
        return self.target

    def discard(self) -> None:
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._remove_created()

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break

    def __enter__(self) -> Path:
        return self.staging

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_atomically(directory: str | Path, write: Callable[[Path], Any], **options) -> Path:
    """Call `write(folder)` on a staging folder, then put it in place of `directory`."""
    folder = AtomicFolder(directory, **options)
    with folder as staging:
        write(staging)
    return folder.target


def _checked_target(path: Path, option: str, protect: Iterable[str | Path]) -> Path:
    """The absolute folder to replace, or a UserError saying why `path` cannot be one."""
    def error(detail: str) -> UserError:
        return UserError(f"{option} {path}: {detail}")

    if str(path).strip() == "":
        raise error("expected a folder name")
    if path.is_symlink():
        if not path.exists():
            raise error(f"is a link to {os.readlink(path)}, which does not exist")
        path = Path(os.path.realpath(path))   # write into the folder the link points to
    target = Path(os.path.abspath(path))
    if target.parent == target:
        raise error("is the root folder; choose a new folder for the results")
    cwd = Path(os.path.abspath(os.getcwd()))
    if cwd == target or target in cwd.parents:
        raise error("is the current folder or holds it; choose a new folder for the results, "
                    "e.g. results/NAME")
    for kept in protect:
        kept = Path(os.path.abspath(kept))
        if target in kept.parents:
            raise error(f"holds {kept.name}, which writing the results would delete; choose "
                        f"another folder")
    if target.exists() and not target.is_dir():
        raise error("expected a folder, found a file")
    for ancestor in reversed(target.parents):
        if ancestor.exists() and not ancestor.is_dir():
            raise error(f"{ancestor} is a file, not a folder")
    return target


def _make_parents(folder: Path, error: Callable[[str], UserError]) -> list[Path]:
    """Create `folder` and its missing parents; returns those created (outermost first)."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    created = []
    for p in missing:
        try:
            p.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            for q in reversed(created):
                q.rmdir()
            raise error(f"cannot create the folder {p} ({exc.strerror or exc})") from None
        created.append(p)
    return created


def _new_sibling(target: Path, kind: str) -> Path:
    """A new hidden folder next to `target` (same file system, so renames are atomic)."""
    folder = _sibling_name(target, kind)
    folder.mkdir()
    return folder


def _sibling_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def _tidy(target: Path) -> None:
    """Remove what a killed writer of `target` left beside it (restoring an old folder that
    was set aside when the target itself is missing)."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(partial|old)-(\d+)-[0-9a-f]+$")
    for sibling in sorted(target.parent.iterdir()):
        match = pattern.match(sibling.name)
        if not match or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not target.exists():
            os.rename(sibling, target)
        else:
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_into_place(staging: Path, target: Path) -> Path | None:
    """Put `staging` at `target`; returns the folder now holding the old files, if any."""
    if not target.exists():
        os.rename(staging, target)
        return None
    if _exchange(staging, target):
        return staging   # now holds the old files
    retired = _sibling_name(target, "old")
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)   # put the old results back
        raise
    return retired


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (a power cut keeps it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, text: str) -> None:
    """Write `path` through a temporary file, fsync it, rename it in place, fsync the folder:
    after a crash the file is either absent, or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)


# -- tables and figures ---------------------------------------------------------------------
def write_csv(frame, path: Path) -> Path:
    frame.to_csv(path, **CSV)
    return path


def save_figure(fig, path: Path) -> Path:
    """`fig` as a PNG at `DPI`: opaque RGB (the figures have no transparency; a quarter less
    to compress than matplotlib's RGBA), zlib level 3 (a third faster than matplotlib's 6,
    and with RGB still smaller files), no timestamps (identical runs, identical bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    shown_dpi = fig.dpi
    fig.dpi = DPI
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(),
                                 "raw", "RGBA", 0, 1)
        image.convert("RGB").save(path, format="png", compress_level=3, dpi=(DPI, DPI))
    finally:
        fig.dpi = shown_dpi
    return path


def colors(n: int) -> list:
    """`n` distinct line colours (tab10, repeating)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


# -- text -----------------------------------------------------------------------------------
def fmt(x: float) -> str:
    """A number for humans: 4 significant digits, '-' when undefined."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.2e}"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def fmt_p(p: float) -> str:
    """A p-value: '<0.001' below 0.001, else three decimals."""
    if isinstance(p, float) and math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               markdown: bool) -> list[str]:
    """Rows of strings as a Markdown table, or as aligned plain-text columns."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()
    lines = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    return lines


def markdown_frame(frame) -> str:
    """A DataFrame as a Markdown table (without the optional `tabulate` dependency)."""
    import numpy as np

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|")
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
