import json
import subprocess
import sys

import pytest

from pruning_lessons.__main__ import main

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
        (["prune-everything"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_options_exit_2_with_a_message(args, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err
