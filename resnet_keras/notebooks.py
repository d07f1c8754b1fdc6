"""Helpers for the course notebooks: quick mode, figure display, and releasing student versions.

The solution notebooks in ``notebooks/`` mark each exercise the nbgrader way::

    def identity_block(X, f, filters, training=True, initializer=random_uniform):
        ### BEGIN SOLUTION
        ...the solution...
        ### END SOLUTION

:func:`release_notebook` writes the student version without nbgrader: every
solution region becomes a placeholder that raises ``NotImplementedError``
(which the checks in :mod:`resnet_keras.grading` report as "not implemented
yet"), ``### BEGIN HIDDEN TESTS`` regions are dropped, and outputs are cleared.
Cell metadata (nbgrader's grade ids and points) is kept, so the released file
still works with nbgrader.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

QUICK_ENV = "RESNET_KERAS_QUICK"

PLACEHOLDER_START = "# YOUR CODE STARTS HERE"
PLACEHOLDER_END = "# YOUR CODE ENDS HERE"
PLACEHOLDER_ERROR = (
    'raise NotImplementedError("write your code between YOUR CODE STARTS HERE '
    'and YOUR CODE ENDS HERE")'
)
MARKDOWN_PLACEHOLDER = "_Write your answer here._"

_MARKER = re.compile(
    r"^(?P<indent>\s*)#+\s*(?P<edge>BEGIN|END) (?P<kind>SOLUTION|HIDDEN TESTS)\s*$"
)


def quick_mode() -> bool:
    """Whether ``RESNET_KERAS_QUICK`` asks for quick mode (set and not ``0``/``false``/empty).

    Quick mode is for CI: the notebooks train on a few batches for one epoch, so
    their numbers mean nothing; students run the full mode (the variable unset).
    """
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


# ---------------------------------------------------------------------------
# Figures


def check_figure(figure) -> None:
    """Raise ``ValueError`` unless ``figure`` has a title, labelled axes, and legends.

    Every axes except colorbars needs an x label and a y label (its own, or that
    of an axes it shares y with); the figure needs a suptitle or every axes a
    title; an axes with more than one line needs a legend.
    """
    axes_list = [ax for ax in figure.axes if not hasattr(ax, "_colorbar")]
    problems = []
    has_suptitle = figure._suptitle is not None and figure._suptitle.get_text()
    for index, ax in enumerate(axes_list):
        where = f"axes {index} ({ax.get_title() or 'untitled'})"
        if not (has_suptitle or ax.get_title()):
            problems.append(f"{where}: no title")
        if not ax.get_xlabel():
            problems.append(f"{where}: no x label")
        shared = ax.get_shared_y_axes().get_siblings(ax)
        if not any(other.get_ylabel() for other in shared):
            problems.append(f"{where}: no y label")
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        if len(lines) > 1 and ax.get_legend() is None:
            problems.append(f"{where}: {len(lines)} lines but no legend")
    if problems:
        raise ValueError("figure is not labelled well enough: " + "; ".join(problems))


def show(figure) -> None:
    """Check ``figure`` with :func:`check_figure`, then display it in the notebook as PNG.

    The library's figures are ``matplotlib.figure.Figure`` objects made without
    pyplot, so they are drawn to PNG here rather than through a GUI backend.
    """
    from IPython.display import Image, display

    check_figure(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    display(Image(data=buffer.getvalue()))


# ---------------------------------------------------------------------------
# Releasing the student version


def _replace_regions(source: str, placeholder_for, where: str) -> str:
    """Replace each ``BEGIN``/``END`` region in ``source`` by ``placeholder_for(kind, indent)``."""
    out: list[str] = []
    open_at: tuple[int, str, str] | None = None  # (line number, kind, indent)
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.match(line)
        if match is None:
            if open_at is None:
                out.append(line)
            continue
        edge, kind, indent = match["edge"], match["kind"], match["indent"]
        if edge == "BEGIN":
            if open_at is not None:
                raise ValueError(
                    f"{where}, line {number}: BEGIN {kind} inside the BEGIN {open_at[1]} "
                    f"opened at line {open_at[0]}; close each region with its END line first."
                )
            open_at = (number, kind, indent)
        else:
            if open_at is None or open_at[1] != kind:
                opened = f"BEGIN {open_at[1]} at line {open_at[0]}" if open_at else "no BEGIN"
                raise ValueError(
                    f"{where}, line {number}: END {kind} without a matching BEGIN {kind} "
                    f"(found {opened}); every BEGIN needs its END, in order."
                )
            out.extend(placeholder_for(kind, open_at[2]))
            open_at = None
    if open_at is not None:
        raise ValueError(
            f"{where}, line {open_at[0]}: BEGIN {open_at[1]} is never closed; "
            f"add the line '### END {open_at[1]}' after the region."
        )
    return "\n".join(out)


def _code_placeholder(kind: str, indent: str) -> list[str]:
    if kind == "HIDDEN TESTS":
        return []
    return [
        f"{indent}{PLACEHOLDER_START}",
        f"{indent}{PLACEHOLDER_ERROR}",
        f"{indent}{PLACEHOLDER_END}",
    ]


def _markdown_placeholder(kind: str, indent: str) -> list[str]:
    return [] if kind == "HIDDEN TESTS" else [MARKDOWN_PLACEHOLDER]


def release(notebook):
    """The student version of an ``nbformat`` notebook (a new object; the input is unchanged).

    Raises:
        ValueError: a cell has a BEGIN marker without its END, or the reverse.
    """
    import copy

    student = copy.deepcopy(notebook)
    for index, cell in enumerate(student.cells):
        where = f"cell {index} ({cell.cell_type})"
        if cell.cell_type == "code":
            cell.source = _replace_regions(cell.source, _code_placeholder, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = _replace_regions(cell.source, _markdown_placeholder, where)
    # The released file stands alone: no pairing with the solution's .py.
    student.metadata.get("jupytext", {}).pop("formats", None)
    return student


def release_notebook(path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the student version of the notebook at ``path`` into ``out_dir`` (same file name).

    Returns:
        the path written.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a notebook, its markers are unbalanced, or
            writing would overwrite the solution notebook itself.
    """
    import nbformat

    path, out_dir = Path(path), Path(out_dir)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} does not exist.")
    target = out_dir / path.name
    if target.exists() and target.resolve() == path.resolve():
        raise ValueError(
            f"releasing {path} into {out_dir} would overwrite the solution notebook; "
            "choose another output folder with -o."
        )
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types for a bad file
        raise ValueError(
            f"{path} is not a Jupyter notebook ({type(error).__name__}: {error}); "
            "give the .ipynb file."
        ) from error
    try:
        student = release(notebook)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, target)
    return target
