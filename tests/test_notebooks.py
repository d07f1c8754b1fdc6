"""The notebooks: release to a student version, pairing with their .py, and execution.

- Release unit tests run on a tiny synthetic notebook.
- The pairing test fails when a notebook and its jupytext ``.py`` drift apart.
- The execution tests run every solution notebook top to bottom in quick mode
  (``RESNET_KERAS_QUICK=1``) with nbclient, and the released assignment, whose
  check cells must fail with the "not implemented yet" guidance while every
  other cell runs. They need the real SIGNS files (skipped without them).
"""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from matplotlib.figure import Figure
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from resnet_keras import cli
from resnet_keras.notebooks import (
    PLACEHOLDER_END,
    PLACEHOLDER_START,
    QUICK_ENV,
    check_figure,
    quick_mode,
    release,
    release_notebook,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ASSIGNMENT = NOTEBOOK_DIR / "Residual_Networks.ipynb"
EXECUTION_TIMEOUT_S = 900  # per cell; quick mode needs far less
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


# ---------------------------------------------------------------------------
# Release, on a synthetic notebook

SOLUTION = """\
def square(x):
    \"\"\"Return x squared.\"\"\"
    y = 0
    ### BEGIN SOLUTION
    y = x * x
    ### END SOLUTION
    return y"""


def synthetic_notebook():
    grade = {"grade": True, "grade_id": "check_square", "points": 2, "solution": False}
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Squares\n### BEGIN SOLUTION\nthe answer\n### END SOLUTION"),
            new_code_cell(
                SOLUTION,
                metadata={"nbgrader": {"grade_id": "square", "solution": True, "grade": False}},
                execution_count=3,
                outputs=[nbformat.v4.new_output("stream", text="hello\n")],
            ),
            new_code_cell(
                "assert square(3) == 9\n### BEGIN HIDDEN TESTS\nassert square(4) == 16\n"
                "### END HIDDEN TESTS",
                metadata={"nbgrader": grade},
            ),
        ],
        metadata={"jupytext": {"formats": "ipynb,py:percent"}, "kernelspec": KERNELSPEC},
    )
    return notebook


def test_release_replaces_solution_with_placeholder_that_raises():
    notebook = synthetic_notebook()
    student = release(notebook)
    source = student.cells[1].source
    assert "x * x" not in source and "BEGIN SOLUTION" not in source
    lines = source.splitlines()
    start = lines.index(f"    {PLACEHOLDER_START}")
    assert lines[start + 1].startswith("    raise NotImplementedError(")
    assert lines[start + 2] == f"    {PLACEHOLDER_END}"
    assert lines[:3] == SOLUTION.splitlines()[:3]  # the scaffolding around it stays
    assert lines[-1] == "    return y"
    namespace = {}
    exec(source, namespace)
    with pytest.raises(NotImplementedError, match="YOUR CODE STARTS HERE"):
        namespace["square"](3)
    assert "BEGIN SOLUTION" in notebook.cells[1].source  # the input is not changed


def test_release_clears_outputs_keeps_metadata_and_drops_hidden_tests():
    student = release(synthetic_notebook())
    code = [cell for cell in student.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert student.cells[1].metadata["nbgrader"]["grade_id"] == "square"
    assert student.cells[2].metadata["nbgrader"]["points"] == 2
    assert student.cells[2].source == "assert square(3) == 9"
    assert "the answer" not in student.cells[0].source
    assert student.cells[0].source.startswith("# Squares\n")
    assert student.metadata["kernelspec"] == KERNELSPEC
    assert "formats" not in student.metadata["jupytext"]  # not paired with the solution .py


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x = 1\n### BEGIN SOLUTION\nx = 2", "never closed"),
        ("x = 1\n### END SOLUTION", "without a matching BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside the BEGIN"),
        ("### BEGIN SOLUTION\n### END HIDDEN TESTS", "without a matching BEGIN"),
    ],
)
def test_release_rejects_unbalanced_markers(tmp_path, source, problem):
    notebook = new_notebook(cells=[new_code_cell("import math"), new_code_cell(source)])
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match=problem) as caught:
        release_notebook(path, tmp_path / "out")
    assert "broken.ipynb" in str(caught.value) and "cell 1" in str(caught.value)
    assert not (tmp_path / "out" / "broken.ipynb").exists()


def test_release_notebook_writes_file_and_refuses_to_overwrite_the_source(tmp_path):
    path = tmp_path / "squares.ipynb"
    nbformat.write(synthetic_notebook(), path)
    written = release_notebook(path, tmp_path / "student")
    assert written == tmp_path / "student" / "squares.ipynb"
    assert "x * x" not in written.read_text()
    with pytest.raises(ValueError, match="overwrite the solution"):
        release_notebook(path, tmp_path)
    (tmp_path / "bad.ipynb").write_text("not json")
    with pytest.raises(ValueError, match="not a Jupyter notebook"):
        release_notebook(tmp_path / "bad.ipynb", tmp_path / "student")


def test_release_command(tmp_path, capsys):
    path = tmp_path / "squares.ipynb"
    nbformat.write(synthetic_notebook(), path)
    assert cli.main(["release", str(path), "-o", str(tmp_path / "out")]) == 0
    assert "out/squares.ipynb" in capsys.readouterr().out
    assert cli.main(["release", str(tmp_path / "missing.ipynb"), "-o", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_quick_mode_reads_the_environment(monkeypatch):
    for value, expected in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv(QUICK_ENV, value)
        assert quick_mode() is expected
    monkeypatch.delenv(QUICK_ENV)
    assert quick_mode() is False


def test_check_figure_wants_title_labels_and_legend():
    figure = Figure()
    axes = figure.subplots()
    axes.plot([1, 2], [3, 4], label="a")
    axes.plot([1, 2], [4, 3], label="b")
    with pytest.raises(ValueError, match=r"no title.*no x label.*no y label.*no legend"):
        check_figure(figure)
    axes.set(title="t", xlabel="x (s)", ylabel="y (m)")
    axes.legend()
    check_figure(figure)


# ---------------------------------------------------------------------------
# Pairing: each notebook and its .py say the same thing, and no outputs are committed


def test_every_notebook_is_paired():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    names = {path.stem for path in NOTEBOOKS}
    assert names == {path.stem for path in NOTEBOOK_DIR.glob("*.py")}, "a notebook lacks its .py"
    assert {"Residual_Networks", "Vanishing_Gradients"} <= names


def cells(notebook) -> list[tuple[str, str, dict]]:
    return [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in notebook.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_py_do_not_drift(path):
    paired = path.with_suffix(".py")
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    from_ipynb, from_py = cells(notebook), cells(jupytext.read(paired))
    hint = f"edit {paired.name}, then run `jupytext --sync notebooks/{paired.name}`"
    for index, (a, b) in enumerate(zip(from_ipynb, from_py, strict=False)):
        assert a == b, f"cell {index} differs between {path.name} and {paired.name}: {hint}"
    assert len(from_ipynb) == len(from_py), f"the cell counts differ: {hint}"


def test_drift_is_detected(tmp_path):
    text = ASSIGNMENT.with_suffix(".py").read_text()
    assert "def identity_block" in text
    changed = jupytext.reads(text.replace("def identity_block", "def identity_blok"), "py:percent")
    original = nbformat.read(ASSIGNMENT, as_version=4)
    assert cells(changed) != cells(original)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {index} has output"


# ---------------------------------------------------------------------------
# Execution in quick mode


def execute(path: Path, allow_errors: bool = False):
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=EXECUTION_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


@pytest.fixture
def quick_env(monkeypatch, real_signs_dir):
    """The kernel inherits this environment: quick mode, the real SIGNS, quiet TensorFlow."""
    monkeypatch.setenv(QUICK_ENV, "1")
    monkeypatch.setenv("SIGNS_DIR", str(real_signs_dir))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")


def errors(cell) -> list:
    return [output for output in cell.get("outputs", []) if output.output_type == "error"]


def is_check_cell(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_notebook_runs_in_quick_mode(path, quick_env):
    notebook = execute(path)  # raises CellExecutionError on the first failing cell
    checks = [cell for cell in notebook.cells if is_check_cell(cell)]
    for cell in checks:
        text = "".join(output.get("text", "") for output in cell.outputs)
        assert "PASSED" in text, f"check cell did not pass: {cell.source!r}: {text!r}"
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert images >= 3, f"{path.name} showed only {images} figures"


@pytest.mark.slow
def test_released_assignment_guides_the_student(tmp_path, quick_env):
    student_path = release_notebook(ASSIGNMENT, tmp_path)
    notebook = execute(student_path, allow_errors=True)
    checks = [cell for cell in notebook.cells if is_check_cell(cell)]
    assert len(checks) == 3
    for cell in checks:
        (error,) = errors(cell)
        assert error.ename == "AssertionError"
        assert "not implemented yet" in error.evalue, error.evalue
        traceback = "\n".join(error.traceback)
        assert not re.search(r"site-packages[/\\]keras", traceback), "traceback goes into Keras"
        frames = len(re.findall(r"(File |Cell In\[)", re.sub(r"\x1b\[[0-9;]*m", "", traceback)))
        assert frames <= 4, f"traceback has {frames} frames:\n{traceback}"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and not is_check_cell(cell):
            assert not errors(cell), f"cell {index} failed in the student version: {errors(cell)}"
    outputs = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "training the library's ResNet50 instead" in outputs
