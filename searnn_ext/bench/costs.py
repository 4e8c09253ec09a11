"""Speed of the cost ops: the compiled kernels against the pure-PyTorch path and against the
tool a user would otherwise call: rapidfuzz.process.cpdist (workers=-1) for the distances, on
the same pairs as int lists and as chr() strings, its fastest form; sacrebleu.sentence_bleu
called per pair for BLEU (with the same definition: add-one smoothing of the 2- to 4-gram
precisions, whitespace tokens). One run, medians over interleaved repeats; conversions are not
timed. Every method's answers are compared before anything is timed.

    searnn bench costs                  # the cases of benchmarks/RESULTS.md
    searnn bench costs --quick          # small sizes, a smoke test
    searnn bench costs --ops bleu_cost gleu_cost
    searnn bench costs --device cuda    # the CUDA kernels and the PyTorch path on a GPU
"""

from __future__ import annotations

import dataclasses
import logging

import torch
from rapidfuzz import process
from rapidfuzz.distance import Hamming, Levenshtein

import searnn_ext
from searnn_ext.bench.timing import (
    add_timing_options,
    bench_device,
    bench_parser,
    machine_description,
    median_seconds,
    print_table,
)
from searnn_ext.ops import COST_DTYPES


@dataclasses.dataclass
class Case:
    pairs: int
    min_length: int
    max_length: int
    vocab: int
    hyps_per_ref: int  # 1: one reference row per pair; 64: the SEARNN shape, via ref_index
    ops: tuple[str, ...] = ("edit_distance", "hamming_distance")

    @property
    def name(self) -> str:
        shared = f", 1 ref per {self.hyps_per_ref} hyps" if self.hyps_per_ref > 1 else ""
        return (
            f"{self.pairs:,} pairs, len {self.min_length}..{self.max_length}, "
            f"{self.vocab} symbols{shared}"
        )


CASES = [
    Case(200_000, 1, 30, 43, 1),
    Case(200_000, 1, 30, 43, 64),
    Case(20_000, 100, 200, 43, 1),
    Case(200_000, 5, 30, 5000, 1, ops=("bleu_cost", "gleu_cost")),
    Case(200_000, 5, 30, 5000, 64, ops=("bleu_cost", "gleu_cost")),
]


def random_rows(count: int, case: Case, generator: torch.Generator):
    tokens = torch.randint(0, case.vocab, (count, case.max_length), generator=generator)
    lengths = torch.randint(case.min_length, case.max_length + 1, (count,), generator=generator)
    return tokens, lengths


def make_pairs(case: Case, seed: int = 0):
    """(hyp, hyp_lengths, ref, ref_lengths, ref_index) on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    hyp, hyp_lengths = random_rows(case.pairs, case, generator)
    refs = -(-case.pairs // case.hyps_per_ref)
    ref, ref_lengths = random_rows(refs, case, generator)
    ref_index = None
    if case.hyps_per_ref > 1:
        ref_index = torch.arange(case.pairs) // case.hyps_per_ref
    return hyp, hyp_lengths, ref, ref_lengths, ref_index


def as_lists(tokens: torch.Tensor, lengths: torch.Tensor, index=None) -> list[list[int]]:
    rows = [row[:n] for row, n in zip(tokens.tolist(), lengths.tolist(), strict=True)]
    return rows if index is None else [rows[i] for i in index.tolist()]


def as_strings(rows: list[list[int]]) -> list[str]:
    return ["".join(map(chr, row)) for row in rows]


def methods(op: str, pairs, device: torch.device) -> dict:
    """name -> a function computing the op's costs on the benchmark pairs: searnn_ext and the
    pure-PyTorch path on `device`, the outside tool on the CPU."""
    hyp, hyp_lengths, ref, ref_lengths, ref_index = pairs
    hyp_lists = as_lists(hyp, hyp_lengths)
    ref_lists = as_lists(ref, ref_lengths, ref_index)
    function = getattr(searnn_ext, op)
    on_device = [None if t is None else t.to(device) for t in pairs]
    ours = {
        "searnn_ext": lambda: function(*on_device, backend="ext"),
        "pure PyTorch": lambda: function(*on_device, backend="torch"),
    }
    if op == "gleu_cost":
        return ours
    if op == "bleu_cost":
        return {**ours, "sacrebleu sentence_bleu per pair": sacrebleu_costs(hyp_lists, ref_lists)}
    hyp_strings, ref_strings = as_strings(hyp_lists), as_strings(ref_lists)
    scorer = Levenshtein.distance if op == "edit_distance" else Hamming.distance

    def rapidfuzz(queries, choices):
        return lambda: process.cpdist(queries, choices, scorer=scorer, workers=-1)

    return {
        **ours,
        "rapidfuzz cpdist, chr strings": rapidfuzz(hyp_strings, ref_strings),
        "rapidfuzz cpdist, int lists": rapidfuzz(hyp_lists, ref_lists),
    }


def sacrebleu_costs(hyps: list[list[int]], refs: list[list[int]]):
    """1 - sentence BLEU / 100 per pair, tokens as whitespace-separated words."""
    import sacrebleu  # only the BLEU rows need it

    hyp_texts = [" ".join(map(str, row)) for row in hyps]
    ref_texts = [" ".join(map(str, row)) for row in refs]
    options = dict(
        smooth_method="add-k", smooth_value=1, use_effective_order=False, tokenize="none"
    )

    # sacrebleu logs a warning per call about effective_order, which this definition leaves off.
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)

    def run():
        return [
            1 - sacrebleu.sentence_bleu(hyp, [ref], **options).score / 100
            for hyp, ref in zip(hyp_texts, ref_texts, strict=True)
        ]

    return run


def check_agreement(case: Case, op: str, candidates: dict) -> None:
    """Every method's answers equal searnn_ext's (costs in [0, 1]: within float32's rounding)."""
    results = {name: torch.as_tensor(run()).double().cpu() for name, run in candidates.items()}
    expected = results["searnn_ext"]
    tolerance = 0 if COST_DTYPES[op] == torch.int64 else 1e-6
    for name, result in results.items():
        if (result - expected).abs().max() > tolerance:
            raise AssertionError(f"{case.name}, {op}: {name} disagrees with searnn_ext")


def run(cases: list[Case], repeats: int, slow_repeats: int, device: torch.device) -> None:
    print(f"Machine: {machine_description()}; searnn_ext and PyTorch on {device}\n")
    header = ["case", "op", "method", "median ms", "x searnn_ext time"]
    rows = []
    for case in cases:
        pairs = make_pairs(case)
        for op in case.ops:
            candidates = methods(op, pairs, device)
            check_agreement(case, op, candidates)
            slow = ("pure PyTorch", "sacrebleu sentence_bleu per pair")
            counts = {name: slow_repeats if name in slow else repeats for name in candidates}
            timings = median_seconds(candidates, counts, device)
            for name, seconds in timings.items():
                ratio = seconds / timings["searnn_ext"]
                rows.append([case.name, op, name, f"{seconds * 1e3:.1f}", f"{ratio:.1f}"])
    print_table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser("costs", __doc__)
    add_timing_options(parser, repeats=15, threads=None)
    parser.add_argument("--quick", action="store_true", help="1/100 of the pairs, 2 repeats")
    every_op = sorted({op for case in CASES for op in case.ops})
    parser.add_argument("--ops", nargs="+", choices=every_op, help="default: all")
    args = parser.parse_args(argv)
    device = bench_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    chosen = set(args.ops or every_op)
    cases = [
        dataclasses.replace(c, ops=tuple(op for op in c.ops if op in chosen))
        for c in CASES
        if chosen & set(c.ops)
    ]
    if args.quick:
        cases = [dataclasses.replace(c, pairs=c.pairs // 100) for c in cases]
        args.repeats = args.slow_repeats = 2
    run(cases, args.repeats, args.slow_repeats, device)


if __name__ == "__main__":
    main()
