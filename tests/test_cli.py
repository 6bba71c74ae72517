import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pruning_lessons.__main__ import (
    METHODS,
    PLOT_FORMATS,
    build_parser,
    column_note,
    main,
    plot_title,
    program_name,
)

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _run(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "pruning_lessons"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=ENV)


TINY = ["demo", "--sparsity", "0.5", "0.8", "--train-epochs", "2", "--fine-tune-epochs", "1"]


def test_help_explains_itself():
    result = subprocess.run(
        [sys.executable, "-m", "pruning_lessons", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "demo" in result.stdout and "examples:" in result.stdout
    assert "digits" in result.stdout


def test_demo_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--method", "--sparsity", "--schedule", "--seed", "--json", "--plot"):
        assert option in text


def test_tiny_run_prints_a_table_and_saves_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    assert main([*TINY, "--json", str(out_json), "--plot", str(out_png)]) == 0
    text = capsys.readouterr().out
    assert "dense MLP" in text and "50.0%" in text and "80.0%" in text
    assert "after pruning" in text and "after fine-tuning" in text
    assert "before any fine-tuning" in text  # the one-shot legend says what "after pruning" is
    results = json.loads(out_json.read_text())
    assert [round(r["sparsity"], 3) for r in results["rows"]] == [0.5, 0.8]
    assert out_png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "args, words",
    [
        (["demo", "--sparsity", "1.5"], "sparsity must be in [0, 1)"),
        (["demo", "--sparsity", "lots"], "is not a number"),
        (["demo", "--method", "psychic"], "invalid choice"),
        (["demo", "--schedule", "weekly"], "invalid choice"),
        (["demo", "--seed", "-1"], "seed must be at least 0"),
        (["demo", "--steps", "0"], "must be at least 1"),
        (["demo", "--json", "/no/such/folder/r.json"], "does not exist"),
        (["demo", "--plot", "curve.txt"], "the name must end in one of"),
        (["demo", "--plot", "curve"], "the name must end in one of"),
        (["demo", "--json", "same.png", "--plot", "same.png"], "name the same file"),
        (["prune-everything"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_options_exit_2_with_a_message(args, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err
    assert err.count("\n") == 1, f"not one line: {err!r}"


def test_output_paths_are_checked_before_training(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    cases = [
        (["--json", str(tmp_path)], "is a folder"),
        (["--plot", str(tmp_path / "sub" / "p.png")], "does not exist"),
        (["--json", str(a_file / "r.json")], "is not a folder"),
    ]
    if Path("/proc/version").exists():  # not even root can create a file in /proc
        cases.append((["--json", "/proc/pruning-lessons.json"], "cannot write in /proc"))
    for args, words in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["demo", *args])
        assert exit_info.value.code == 2
        captured = capsys.readouterr()
        assert words in captured.err and captured.out == ""  # nothing trained, nothing printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # the probe left nothing


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--plot", "curve.txt"],
        ["demo", "--json", "/no/such/folder/r.json"],
        ["demo", "--sparsity", "1.5"],
        ["demo", "--method", "psychic"],
        ["--no-such-option"],
    ],
)
def test_bad_arguments_fail_before_torch_loads_with_code_2_and_no_traceback(args):
    done = _run(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("python -m pruning_lessons")
    assert done.stdout == ""
    probe = (
        "import sys\nfrom pruning_lessons.__main__ import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    assert _run(*args, code=probe).stdout.strip() == "False"


def test_help_and_version_do_not_import_torch():
    probe = (
        "import sys\nfrom pruning_lessons.__main__ import main\n"
        "for argv in (['--help'], ['demo', '--help'], ['--version']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    assert _run(code=probe).stderr.strip() == "False"


def test_version():
    done = _run("--version")
    assert done.returncode == 0
    from pruning_lessons import __version__

    assert done.stdout.strip() == f"python -m pruning_lessons {__version__}"


def test_usage_names_the_program_as_invoked():
    assert program_name("/home/me/.venv/bin/pruning-lessons") == "pruning-lessons"
    assert program_name("/repo/pruning_lessons/__main__.py") == "python -m pruning_lessons"
    assert _run("--help").stdout.startswith("usage: python -m pruning_lessons ")


def test_plot_formats_are_ones_matplotlib_writes():
    from matplotlib.backend_bases import FigureCanvasBase

    assert set(PLOT_FORMATS) <= set(FigureCanvasBase.get_supported_filetypes())


def test_methods_listed_without_torch_are_the_pipelines_pruners():
    from pruning_lessons.weights.pipeline import PRUNERS

    assert sorted(METHODS) == sorted(PRUNERS)


def test_plot_title_and_table_legend_name_the_setting():
    settings = {
        "scope": "global",
        "method": "magnitude",
        "schedule": "cubic",
        "steps": 5,
        "fine_tune_epochs": 10,
        "seed": 0,
    }
    title = plot_title(settings, [0.5, 0.95])
    for words in ("global magnitude pruning", "cubic schedule", "50-95 % sparsity", "10 fine"):
        assert words in title
    one_shot = plot_title({**settings, "schedule": "one-shot"}, [0.9])
    assert "one-shot schedule, 90 % sparsity" in one_shot and "steps" not in one_shot
    from argparse import Namespace

    note = column_note(Namespace(**settings))
    assert "not comparable with one-shot" in note and "same budget" in note


def _readme_runs(section: str = "## Command line") -> list[tuple[list[str], list[str]]]:
    """Each ``$ pruning-lessons ...`` line in one README section, with its output."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split(f"\n{section}\n", 1)[1]
    text = text.split("\n## ", 1)[0]  # up to the next section
    runs = []
    for block in re.findall(r"```text\n(.*?)```", text, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *output = chunk.strip("\n").split("\n")
            runs.append((shlex.split(command), [line for line in output if line]))
    return runs


def test_readme_shows_real_output_of_the_current_command_line(capsys, monkeypatch, tmp_path):
    runs = _readme_runs()
    assert len(runs) >= 4
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(sys, "argv", ["/venv/bin/pruning-lessons"])
    for argv, output in runs:
        assert argv[0] == "pruning-lessons"
        if output[-1] == "(exit code 2)" or argv[1:] == ["--version"]:
            with pytest.raises(SystemExit) as exit_info:  # nothing trains: run it for real
                main(argv[1:])
            captured = capsys.readouterr()
            printed = (captured.out + captured.err).splitlines() + (
                [f"(exit code {exit_info.value.code})"] if exit_info.value.code else []
            )
            assert printed == output
            continue
        args = build_parser().parse_args(argv[1:])  # a training run: its fixed lines must match
        header = f"{args.scope} {args.method} pruning, {args.schedule} schedule; test accuracy:"
        assert output[1] == header
        assert column_note(args) in "\n".join(output)
        rows = [line for line in output if line.strip().endswith(tuple("0123456789"))]
        assert [line.split()[0] for line in rows] == [f"{100 * s:.1f}%" for s in args.sparsity]


def test_readme_shows_real_errors_of_the_llm_command(capsys, monkeypatch):
    """The ``llm`` section's failing examples run for real (its pruning run takes minutes)."""
    runs = _readme_runs("## Pruning your own language model")
    failing = [(argv, output) for argv, output in runs if output[-1] == "(exit code 2)"]
    assert runs and failing
    monkeypatch.setattr(sys, "argv", ["/venv/bin/pruning-lessons"])
    for argv, output in failing:
        assert argv[:2] == ["pruning-lessons", "llm"]
        with pytest.raises(SystemExit) as exit_info:
            main(argv[1:])
        captured = capsys.readouterr()
        printed = (captured.out + captured.err).splitlines() + [
            f"(exit code {exit_info.value.code})"
        ]
        assert printed == output
