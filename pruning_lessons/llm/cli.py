"""``pruning-lessons llm MODEL_DIR``: prune a local ``transformers`` model folder, offline.

Reads the folder (config, weights, tokenizer) with no network, tokenises ``--calibration``,
keeps its last ``--held-out`` share for perplexity, draws calibration windows from the rest,
prunes in place block by block (a progress bar per block), measures perplexity before and
after, and writes the pruned model with ``save_pretrained`` (plus the tokenizer and a
``pruning.json`` summary) to ``--out``. Every argument is checked before anything is loaded:
a mistake is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

METHODS = ("magnitude", "wanda", "sparsegpt")

EXAMPLES = """\
examples:
  {prog} llm ./TinyLlama-1.1B --method wanda --sparsity 0.5 --calibration wiki.txt --out ./pruned
  {prog} llm ./Qwen2.5-0.5B --method sparsegpt --n-m 2:4 --calibration c4.txt --out ./qwen-24
  {prog} llm ./model --method sparsegpt --sparsity 0.7 --owl --calibration text.txt --out ./owl
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _fraction(name: str, high_open: bool = True):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0.0 <= value < 1.0 or (name == "held-out" and value == 0):
            span = "(0, 1)" if name == "held-out" else "[0, 1)"
            raise argparse.ArgumentTypeError(f"{name} must be in {span}, got {value}")
        return value

    return parse


def _n_m(text: str) -> tuple[int, int]:
    n, sep, m = text.partition(":")
    if not sep or not n.isdigit() or not m.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not N:M, e.g. 2:4")
    if not 0 < int(n) < int(m):
        raise argparse.ArgumentTypeError(f"N:M needs 0 < N < M, got {text}")
    return int(n), int(m)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{prog} llm",
        description=__doc__.split("\n\n", 1)[1],
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    parser.add_argument("--method", choices=METHODS, required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sparsity", type=_fraction("sparsity"), metavar="S")
    target.add_argument("--n-m", type=_n_m, metavar="N:M", help="keep N of every M, e.g. 2:4")
    parser.add_argument("--owl", action="store_true", help="OWL per-block sparsity")
    parser.add_argument("--calibration", type=Path, required=True, metavar="TEXT_FILE")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--samples", type=_positive, default=64, help="calibration windows")
    parser.add_argument("--seq-len", type=_positive, default=128, help="tokens per window")
    parser.add_argument(
        "--held-out", type=_fraction("held-out"), default=0.1, help="share kept for perplexity"
    )
    parser.add_argument("--device", default=None, help="where each block runs (cpu, cuda)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compact", action="store_true", help="also write the compact form")
    return parser


def check(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot work, or None: nothing is loaded before this passes."""
    if args.owl and args.n_m:
        return "--owl sets per-block sparsities: give --sparsity, not --n-m"
    if args.owl and not 0.08 <= args.sparsity < 0.92:
        return (
            f"--owl: --sparsity must be in [0.08, 0.92) (OWL spreads +-0.08), got {args.sparsity}"
        )
    if not args.model_dir.is_dir():
        return f"MODEL_DIR {args.model_dir} is not a folder"
    if not (args.model_dir / "config.json").is_file():
        return f"MODEL_DIR {args.model_dir} has no config.json (a save_pretrained folder has one)"
    if not args.calibration.is_file():
        return f"--calibration {args.calibration} is not a file"
    if args.calibration.stat().st_size == 0:
        return f"--calibration {args.calibration} is empty"
    out = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return f"--out {out} exists and is not an empty folder"
    parent = out.parent if not out.exists() else out
    if not parent.is_dir():
        return f"--out {out}: folder {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"--out {out}: cannot write in {parent}"
    if out.resolve() == args.model_dir.resolve():
        return "--out must differ from MODEL_DIR"
    if args.device is not None and args.device.split(":")[0] not in ("cpu", "cuda", "mps", "xpu"):
        return f"--device must be cpu, cuda, cuda:N, mps or xpu, got {args.device}"
    return None


def _load(args: argparse.Namespace):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, local_files_only=True)
    return model.eval(), tokenizer


def _tokens(args: argparse.Namespace, tokenizer):
    import torch

    try:
        text = args.calibration.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, None, f"--calibration {args.calibration} is not UTF-8 text"
    ids = torch.tensor(tokenizer(text)["input_ids"], dtype=torch.int64)
    cut = int(len(ids) * (1 - args.held_out))
    train, test = ids[:cut], ids[cut:]
    if len(train) < args.seq_len or len(test) < 2:
        need = int(args.seq_len / (1 - args.held_out)) + 2
        return (
            None,
            None,
            (
                f"--calibration {args.calibration} has {len(ids)} tokens; --seq-len "
                f"{args.seq_len} with --held-out {args.held_out} needs at least {need}"
            ),
        )
    return train, test, None


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pruning_lessons import llm
    from pruning_lessons.llm.decoder import find_decoder, weight_matrix

    model, tokenizer = _load(args)
    train, test, problem = _tokens(args, tokenizer)
    if problem:
        parser.error(problem)
    decoder = find_decoder(model)
    layers = decoder.all_layers()
    print(
        f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{len(decoder.blocks)} blocks ({decoder.blocks_name}), {len(layers)} layers to prune"
    )
    calibration = llm.calibration_batches(train, args.samples, args.seq_len, seed=args.seed)
    dense = llm.perplexity(model, test, seq_len=args.seq_len)
    print(f"perplexity before: {dense:.3f} ({len(test):,} held-out tokens)")
    target = {"n_m": args.n_m} if args.n_m else {"amount": args.sparsity}
    start = time.perf_counter()
    llm.prune_llm(
        model,
        args.method,
        calibration,
        **target,
        owl=args.owl,
        device=args.device,
        masks=False,
        progress=True,
    )
    seconds = time.perf_counter() - start
    pruned = llm.perplexity(model, test, seq_len=args.seq_len)
    zeros = sum(int((weight_matrix(m) == 0).sum()) for m in layers.values())
    total = sum(weight_matrix(m).numel() for m in layers.values())
    label = f"{args.n_m[0]}:{args.n_m[1]}" if args.n_m else f"{args.sparsity:.0%}"
    print(
        f"{args.method} {label}{' OWL' if args.owl else ''}: {seconds:.1f} s, "
        f"{zeros / total:.1%} of the block weights are zero"
    )
    print(f"perplexity after: {pruned:.3f} ({pruned / dense - 1:+.1%})")
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    summary = {
        "model": type(model).__name__,
        "method": args.method,
        "target": label,
        "owl": args.owl,
        "calibration": {"samples": args.samples, "seq_len": args.seq_len, "seed": args.seed},
        "held_out_tokens": len(test),
        "perplexity_before": dense,
        "perplexity_after": pruned,
        "block_weight_sparsity": zeros / total,
        "seconds": seconds,
    }
    dense_size = sum(f.stat().st_size for f in args.out.glob("*.safetensors"))
    print(f"saved {args.out} (save_pretrained, {dense_size / 2**20:.1f} MiB of weights)")
    if args.compact:
        from pruning_lessons.llm.saving import save_compact

        path = save_compact(model, args.out / "compact")
        summary["compact_bytes"], summary["dense_bytes"] = path.stat().st_size, dense_size
        print(f"compact form: {path} ({path.stat().st_size / dense_size:.2f} of the dense file)")
    (args.out / "pruning.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: list[str], prog: str) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    problem = check(args)
    if problem:
        parser.error(problem)
    try:
        return run(args, parser)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
