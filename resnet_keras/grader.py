"""Grade a student's submission (.py or .ipynb) with the checks of :mod:`resnet_keras.grading`.

The student's code runs in a separate Python process, never in the grader's:
one child loads the submission and runs the checks one exercise at a time,
reporting each result on its standard output. The parent enforces a time
limit per exercise; when an exercise hangs, or the child dies (``exit()``,
``os._exit``, a crash), the parent records that exercise's reason and starts a
fresh child for the exercises left, so one broken function never stops the
grading of the rest.

By default only the submission's imports, function and class definitions and
call-free assignments run (a notebook's training cells and check cells are
skipped); ``run_all=True`` runs every statement. A top-level statement that
raises is skipped and loading goes on, as the functions may not need it;
``exit()`` while loading ends it.
"""

import ast
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

# Exercise name (the function the student writes) -> points it is worth (as the notebook's
# nbgrader check cells give them).
POINTS = {"identity_block": 3.0, "convolutional_block": 3.0, "ResNet50": 4.0}
MARK = "@@grader "  # prefix of the child's protocol lines on stdout
STARTUP_TIMEOUT = 300.0  # seconds for the child to import Keras (not the student's time)


@dataclass
class _Outcome:
    passed: bool
    score: float
    messages: list[str]
    mistakes: list[str]
    seconds: float = 0.0


def submission_source(path: Path) -> str:
    """The Python source of a .py file, or of a notebook's code cells (magics commented out)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no submission at {path}")
    if path.suffix == ".py":
        return path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        raise ValueError(f"expected a .py or .ipynb submission; got {path.name}")
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path.name} is not a readable Jupyter notebook ({error})") from None
    lines = []
    for cell in cells:
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        for line in text.splitlines():
            magic = line.lstrip().startswith(("%", "!"))
            lines.append("# " + line if magic else line)
        lines.append("")
    return "\n".join(lines)


_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def definitions_only(source: str) -> str:
    """Blank every top-level statement but imports, definitions and call-free assignments.

    Line numbers are kept, so tracebacks still point at the student's lines.
    Raises ``SyntaxError`` when the source does not parse.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    keep = [False] * len(lines)
    for node in tree.body:
        assignment = isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
            isinstance(n, ast.Call) for n in ast.walk(node)
        )
        if isinstance(node, _KEPT) or assignment:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            for i in range(first - 1, node.end_lineno):
                keep[i] = True
    return "\n".join(line if kept else "" for line, kept in zip(lines, keep, strict=True))


def grade(
    submission: str | os.PathLike,
    *,
    timeout: float = 120.0,
    exercises: tuple[str, ...] = tuple(POINTS),
    run_all: bool = False,
) -> dict:
    """Grade a submission; returns the report (see :func:`write_report`).

    Args:
        submission: path of a .py file or a .ipynb notebook.
        timeout: seconds each exercise (and loading the file) may take.
        exercises: which exercises to grade (names in :data:`POINTS`).
        run_all: run every top-level statement, not only definitions.

    Raises:
        FileNotFoundError, ValueError: the submission is missing or not .py/.ipynb.
    """
    path = Path(submission)
    source = submission_source(path)
    unknown = [e for e in exercises if e not in POINTS]
    if unknown:
        raise ValueError(f"unknown exercise(s) {unknown}; expected some of {list(POINTS)}")
    try:
        runnable = source if run_all else definitions_only(source)
    except SyntaxError as error:
        reason = f"your file has a syntax error at line {error.lineno}: {error.msg}."
        outcomes = {e: _Outcome(False, 0.0, [reason], ["syntax_error"]) for e in exercises}
    else:
        outcomes = _run_children(runnable, path, list(exercises), timeout)
    return _report(path, outcomes, timeout)


def _run_children(source: str, path: Path, exercises: list[str], timeout: float) -> dict:
    outcomes: dict[str, _Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="resnet-keras-grade-") as folder:
        code_file = Path(folder) / "submission.py"
        code_file.write_text(source, encoding="utf-8")
        remaining = list(exercises)
        while remaining:
            outcomes.update(_run_child(code_file, path, remaining, timeout, Path(folder)))
            remaining = [e for e in remaining if e not in outcomes]
    return outcomes


def _run_child(code_file: Path, path: Path, exercises: list[str], timeout: float, folder: Path):
    """Run one child over ``exercises``; the outcomes it settled (at least one)."""
    stderr_path = folder / "stderr.txt"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "resnet_keras.grader", str(code_file), str(path), *exercises]
    with open(stderr_path, "w", encoding="utf-8") as stderr:
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
        try:
            return _follow(child, lines, exercises, timeout, stderr_path)
        finally:
            _kill(child)


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        if line.startswith(MARK):
            lines.put(line[len(MARK) :].rstrip("\n"))
    lines.put(None)


def _follow(child, lines: queue.Queue, exercises: list[str], timeout: float, stderr_path: Path):
    outcomes: dict[str, _Outcome] = {}
    phase, current, started = "startup", None, time.monotonic()
    deadline = started + STARTUP_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = "timeout"
        if line in ("timeout", None):
            why = _why_stopped(line, phase, child, timeout, stderr_path)
            pending = [current] if current else [e for e in exercises if e not in outcomes]
            code = "timeout" if line == "timeout" else "crashed"
            for name in pending:
                outcomes[name] = _Outcome(False, 0.0, [why], [code])
            return outcomes
        kind, _, rest = line.partition(" ")
        if kind == "loading":
            phase, deadline = "loading", time.monotonic() + timeout
        elif kind == "load-error":
            return {e: _Outcome(False, 0.0, [rest], ["load_error"]) for e in exercises}
        elif kind == "start":
            phase, current, started = "exercise", rest, time.monotonic()
            deadline = started + timeout
        elif kind == "result":
            result = json.loads(rest)
            outcomes[current] = _Outcome(
                result["passed"],
                result["score"],
                result["messages"],
                result["mistakes"],
                round(time.monotonic() - started, 2),
            )
            current = None
            if len(outcomes) == len(exercises):
                return outcomes


def _why_stopped(line, phase: str, child, timeout: float, stderr_path: Path) -> str:
    doing = {
        "startup": "while starting Python and Keras",
        "loading": "while loading your file",
        "exercise": "while running this exercise",
    }[phase]
    if line == "timeout":
        if phase == "startup":
            return f"the grader could not start Python and Keras within {STARTUP_TIMEOUT:.0f} s."
        return (
            f"stopped after {timeout:.0f} s {doing}: look for an endless loop "
            "(a while loop whose condition never changes) or very slow code."
        )
    code = child.wait()
    last = _last_line(stderr_path)
    detail = f" Its last words: {last}" if last else ""
    return (
        f"the Python process running your code exited (code {code}) {doing}: "
        f"does your code call exit(), sys.exit() or os._exit()?{detail}"
    )


def _last_line(path: Path) -> str:
    try:
        text = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except OSError:
        return ""
    return text[-1][:200] if text else ""


def _kill(child) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _report(path: Path, outcomes: dict[str, _Outcome], timeout: float) -> dict:
    exercises = {}
    for name, outcome in outcomes.items():
        exercises[name] = {
            "points": round(outcome.score * POINTS[name], 3),
            "max_points": POINTS[name],
            "passed": outcome.passed,
            "message": outcome.messages[0] if outcome.messages else "",
            "messages": outcome.messages,
            "mistakes": outcome.mistakes,
            "seconds": outcome.seconds,
        }
    return {
        "submission": str(path),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "timeout_s": timeout,
        "points": round(sum(e["points"] for e in exercises.values()), 3),
        "max_points": sum(e["max_points"] for e in exercises.values()),
        "exercises": exercises,
    }


def write_report(report: dict, output: str | os.PathLike) -> Path:
    """Write the report as JSON, atomically (a temporary file, then a rename)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(report, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, output)
    return output


# --------------------------------------------------------------------------------------
# The child: load the submission, run each check, report on stdout.
# --------------------------------------------------------------------------------------


def _child(code_file: str, shown_name: str, exercises: list[str]) -> None:
    channel = sys.stdout
    sys.stdout = sys.stderr  # the student's prints must not reach the protocol channel

    def say(*words: str) -> None:
        channel.write(MARK + " ".join(words) + "\n")
        channel.flush()

    from resnet_keras import grading

    say("loading")
    namespace = {"__name__": "__submission__"}
    skipped = []  # statements that raised: skipped, as a later cell may not need them
    try:
        tree = ast.parse(Path(code_file).read_text(encoding="utf-8"), shown_name)
        for statement in tree.body:
            try:
                exec(compile(ast.Module([statement], []), shown_name, "exec"), namespace)
            except Exception as error:  # the student's code may raise anything
                skipped.append(f"line {statement.lineno} raised {grading.explain_error(error)}")
                print(f"grader: skipped {skipped[-1]}", file=sys.stderr)
    except BaseException as error:  # exit() and the like end the loading
        say("load-error", f"your file raised {grading.explain_error(error)} while loading.")
        return
    for name in exercises:
        say("start", name)
        fn = namespace.get(name)
        if not callable(fn):
            message = f"no function named {name} in your file: keep the name the notebook gives."
            if skipped:
                message += f" (While loading, {skipped[0]}.)"
            result = grading.CheckResult(name, False, 0.0, [message], ["missing"])
        else:
            try:
                result = grading.CHECKS[name](fn, raises=False, quiet=True)
            except BaseException as error:  # a broken check must not stop the rest
                message = f"the check failed on your function: {grading.explain_error(error)}."
                result = grading.CheckResult(name, False, 0.0, [message], ["check_failed"])
        say("result", json.dumps(result.to_dict()))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3:])
