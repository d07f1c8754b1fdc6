"""`resnet-keras grade`: student code runs in its own process, under a time limit, in isolation."""

import json
import textwrap

import pytest

from resnet_keras import cli, grader

GOOD = """
from resnet_keras.blocks import convolutional_block, identity_block
from resnet_keras.models import ResNet50
"""

BROKEN = """
import os
import sys


def identity_block(X, f, filters, training=True, initializer=None):
    while True:  # never ends
        pass


def convolutional_block(X, f, filters, s=2, training=True, initializer=None):
    raise RuntimeError("my bug")


def ResNet50(input_shape=(64, 64, 3), classes=6):
    return None
"""

EXITS = """
import os
import sys

from resnet_keras.blocks import convolutional_block


def identity_block(X, f, filters, training=True, initializer=None):
    os._exit(3)


def ResNet50(input_shape=(64, 64, 3), classes=6):
    sys.exit("bye")
"""


def _write(tmp_path, name: str, source: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture(scope="module")
def broken_report(tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("broken"), "broken.py", BROKEN)
    return grader.grade(path, timeout=20)


def test_endless_loop_costs_only_its_exercise(broken_report):
    result = broken_report["exercises"]["identity_block"]
    assert result["points"] == 0 and result["mistakes"] == ["timeout"]
    assert "stopped after 20 s" in result["message"] and "endless loop" in result["message"]


def test_exception_and_none_are_reported_and_grading_goes_on(broken_report):
    raised = broken_report["exercises"]["convolutional_block"]
    assert raised["mistakes"] == ["raised"]
    assert "RuntimeError: my bug" in raised["message"] and "line 12" in raised["message"]
    none = broken_report["exercises"]["ResNet50"]
    assert none["mistakes"] == ["returned_none"] and "return model" in none["message"]
    assert broken_report["points"] == 0 and broken_report["max_points"] == 10


def test_exiting_the_interpreter_costs_only_its_exercise(tmp_path):
    report = grader.grade(_write(tmp_path, "exits.py", EXITS), timeout=60)
    exercises = report["exercises"]
    assert exercises["identity_block"]["mistakes"] == ["crashed"]
    assert "exited (code 3)" in exercises["identity_block"]["message"]
    assert exercises["convolutional_block"]["passed"]
    assert exercises["ResNet50"]["mistakes"] == ["raised"]
    assert "SystemExit" in exercises["ResNet50"]["message"]


def _notebook(cells: list[str]) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "source": ["# Residual Networks"], "metadata": {}},
                *({"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells),
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_grade_command_on_a_notebook_writes_the_report(tmp_path, capsys):
    cells = [
        "%matplotlib inline\n" + GOOD,
        "while True:\n    pass  # a training cell: skipped, only definitions run",
        "import os\nQUICK = os.environ.get('QUICK')  # a call: not run\nsize = 8 if QUICK else 64",
        "from resnet_keras.grading import check_identity_block\n"
        "check_identity_block(identity_block)",
    ]
    path = tmp_path / "student.ipynb"
    path.write_text(_notebook(cells))
    assert cli.main(["grade", str(path), "--timeout", "60"]) == 0
    report = json.loads((tmp_path / "student.grade.json").read_text())
    assert report["points"] == report["max_points"] == 10
    assert all(e["passed"] for e in report["exercises"].values())
    assert "total 10.00/10" in capsys.readouterr().out


def test_syntax_error_is_reported_without_running(tmp_path):
    report = grader.grade(_write(tmp_path, "typo.py", "def identity_block(:\n    pass\n"))
    result = report["exercises"]["identity_block"]
    assert result["mistakes"] == ["syntax_error"] and "line 1" in result["message"]


@pytest.mark.parametrize(
    ("name", "phrase"), [("missing.py", "no submission at"), ("answer.txt", "expected a .py")]
)
def test_bad_grader_input_is_a_one_line_error(tmp_path, capsys, name, phrase):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    assert cli.main(["grade", str(tmp_path / name)]) == 1
    error = capsys.readouterr().err
    assert phrase in error and error.count("\n") == 1


def test_definitions_only_keeps_line_numbers():
    source = "import os\nx = 1\nprint('hi')\n\n@staticmethod\ndef f():\n    return 1\nf()\n"
    kept = grader.definitions_only(source).splitlines()
    assert kept[:3] == ["import os", "x = 1", ""]
    assert kept[4:7] == ["@staticmethod", "def f():", "    return 1"]
    assert "f()" not in kept
