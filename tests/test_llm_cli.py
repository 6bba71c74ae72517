"""``pruning-lessons llm``: a saved LlamaForCausalLM folder pruned end to end, offline."""

from __future__ import annotations

import inspect
import json
import json as json_module

import pytest
import torch

import pruning_lessons as pl
from pruning_lessons.__main__ import main
from pruning_lessons.llm import cli

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small random-weight LlamaForCausalLM with a byte tokenizer, and a text file."""
    from pruning_lessons.llm.convert import byte_tokenizer

    transformers.logging.set_verbosity_error()
    root = tmp_path_factory.mktemp("llm_cli")
    config = transformers.LlamaConfig(
        vocab_size=256,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(root / "model")
    byte_tokenizer().save_pretrained(root / "model")
    text = root / "text.txt"
    text.write_text(inspect.getsource(json_module.decoder) * 2, encoding="utf-8")
    return root


def run(folder, out: str, *extra: str) -> int:
    return main(
        [
            "llm",
            str(folder / "model"),
            "--calibration",
            str(folder / "text.txt"),
            "--out",
            str(folder / out),
            "--samples",
            "4",
            "--seq-len",
            "32",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("out", "args"),
    [
        ("wanda", ["--method", "wanda", "--sparsity", "0.5"]),
        ("sparsegpt24", ["--method", "sparsegpt", "--n-m", "2:4", "--compact"]),
        ("owl", ["--method", "magnitude", "--sparsity", "0.6", "--owl"]),
    ],
)
def test_the_command_prunes_a_saved_folder_that_loads_back(folder, out, args, capsys):
    assert run(folder, out, *args) == 0
    printed = capsys.readouterr().out
    assert "LlamaForCausalLM: " in printed and "14 layers to prune" in printed
    assert "perplexity before: " in printed and "perplexity after: " in printed
    summary = json.loads((folder / out / "pruning.json").read_text())
    pruned = transformers.AutoModelForCausalLM.from_pretrained(folder / out)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder / out)
    assert tokenizer("ab")["input_ids"] == [97, 98]
    weights = [m.weight for m in pruned.model.layers.modules() if isinstance(m, torch.nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert summary["block_weight_sparsity"] == pytest.approx(zeros)
    if "--n-m" in args:
        assert all(pl.is_nm_sparse(w, 2, 4) for w in weights)
        assert summary["compact_bytes"] < summary["dense_bytes"]
    elif "--owl" in args:
        assert zeros == pytest.approx(0.6, abs=0.01)  # OWL keeps the mean
    else:
        assert all(((w == 0).sum(1) == w.shape[1] // 2).all() for w in weights)
    assert summary["perplexity_after"] != summary["perplexity_before"]
    assert f"perplexity after: {summary['perplexity_after']:.3f}" in printed


BAD = [
    (["--method", "wanda", "--sparsity", "1"], "sparsity must be in [0, 1)"),
    (["--method", "wanda", "--n-m", "4:4"], "0 < N < M"),
    (["--method", "wanda", "--n-m", "2-4"], "is not N:M"),
    (["--method", "wanda", "--n-m", "2:4", "--owl"], "--owl sets per-block"),
    (["--method", "wanda", "--sparsity", "0.5", "--n-m", "2:4"], "not allowed with"),
    (["--method", "obs", "--sparsity", "0.5"], "invalid choice"),
    (["--method", "wanda"], "one of the arguments --sparsity --n-m is required"),
    (["--method", "wanda", "--sparsity", "0.5", "--samples", "0"], "whole number >= 1"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_mistakes_are_one_line_and_exit_2_before_loading(
    folder, args, message, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "_load", lambda _: pytest.fail("loaded despite a bad argument"))
    with pytest.raises(SystemExit) as stop:
        run(folder, "never", *args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and err.count("\n") == 1, err


def test_paths_are_checked_before_loading(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_load", lambda _: pytest.fail("loaded despite a bad path"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "empty.txt").write_text("")
    base = ["llm", str(folder / "model"), "--method", "wanda", "--sparsity", "0.5"]
    cases = [
        (
            [
                "llm",
                str(tmp_path),
                "--method",
                "wanda",
                "--sparsity",
                "0.5",
                "--calibration",
                str(folder / "text.txt"),
                "--out",
                str(tmp_path / "o"),
            ],
            "has no config.json",
        ),
        (
            base + ["--calibration", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")],
            "is not a file",
        ),
        (
            base + ["--calibration", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "o")],
            "is empty",
        ),
        (
            base + ["--calibration", str(folder / "text.txt"), "--out", str(tmp_path / "full")],
            "not an empty folder",
        ),
        (
            base + ["--calibration", str(folder / "text.txt"), "--out", str(tmp_path / "a" / "b")],
            "does not exist",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err and err.count("\n") == 1, err


def test_too_little_text_is_one_line_and_exit_2(folder, tmp_path, capsys):
    short = tmp_path / "short.txt"
    short.write_text("print(1)\n")
    argv = [
        "llm",
        str(folder / "model"),
        "--method",
        "wanda",
        "--sparsity",
        "0.5",
        "--calibration",
        str(short),
        "--out",
        str(tmp_path / "o"),
    ]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "has 9 tokens" in err and not (tmp_path / "o").exists()
