"""Speed of rollout_costs with learned roll-outs: the compiled decode loop against the
pure-PyTorch path on three shapes from the paper, in float32 and in bfloat16 (a float32 model
under torch.autocast), with the GEMM floors: the time the roll-outs' matrix-multiply FLOPs take
as a few large torch.mm calls (MKL, oneDNN or cuBLAS) on the device, in each dtype. The
bfloat16 roll-outs' agreement with float32's is printed too (see bench/precision.py). On the
edit-distance shape (Spelling), also reference roll-outs: copying the target, and the optimal
reference (no decoding: one DP column per prefix, one step per candidate) on both backends. The
OCR and Spelling models with LSTM cells are the -LSTM shapes; the -Transformer shapes decode with
a TransformerSeq2Seq (d_model 128, 4 heads, 2 layers), on the OCR and Spelling shapes and on
Long-Transformer (T = 30), and report each backend's peak memory during the roll-outs.

    searnn bench rollout                  # the shapes of benchmarks/RESULTS.md
    searnn bench rollout --quick          # smaller batches, a smoke test
    searnn bench rollout --device cuda    # on a GPU
"""

from __future__ import annotations

import dataclasses
import multiprocessing

import torch

import searnn_ext
from searnn_ext import _extension
from searnn_ext.bench.precision import agreement
from searnn_ext.bench.timing import (
    add_timing_options,
    bench_device,
    bench_parser,
    machine_description,
    median_seconds,
    peak_memory_bytes,
    print_table,
)
from searnn_ext.cells import CELLS

OCR_MODEL = dict(source_features=128, hidden_size=128)
SPELLING_MODEL = dict(source_vocab=43, hidden_size=100, attention="additive", eos_id=0)
CHUNKING_MODEL = dict(
    source_vocab=(1000, 45),
    hidden_size=172,
    num_layers=2,
    bidirectional=True,
    attention="additive",
    input_feeding=True,
)

TRANSFORMER = dict(cell="transformer", d_model=128, heads=4, layers=2, ffn_size=512)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
FAST_REPEATS_FACTOR = 4


@dataclasses.dataclass
class Shape:
    name: str
    batch: int
    length: int  # target length (without EOS)
    vocab: int  # A = K: every token is a candidate
    cost: str
    model: dict


SHAPES = [
    Shape("OCR", batch=64, length=15, vocab=26, cost="hamming", model=OCR_MODEL),
    Shape("Spelling", batch=128, length=10, vocab=43, cost="edit", model=SPELLING_MODEL),
    Shape("Chunking", batch=8, length=70, vocab=22, cost="hamming", model=CHUNKING_MODEL),
    # The OCR and Spelling models with LSTM cells.
    Shape("OCR-LSTM", 64, 15, 26, "hamming", {**OCR_MODEL, "cell": "lstm"}),
    Shape("Spelling-LSTM", 128, 10, 43, "edit", {**SPELLING_MODEL, "cell": "lstm"}),
    # The same shapes with TransformerSeq2Seq, and a longer one: T = 30.
    Shape("OCR-Transformer", 64, 15, 26, "hamming", {"source_features": 128, **TRANSFORMER}),
    Shape(
        "Spelling-Transformer",
        128,
        10,
        43,
        "edit",
        {**TRANSFORMER, "source_vocab": 43, "eos_id": 0},
    ),
    Shape("Long-Transformer", 32, 30, 26, "hamming", {"source_features": 128, **TRANSFORMER}),
]


def make_model(shape: Shape):
    """The shape's Seq2Seq, or its TransformerSeq2Seq (cell "transformer"), in eval mode."""
    options = dict(shape.model)
    if options.get("cell") == "transformer":
        del options["cell"]
        return searnn_ext.TransformerSeq2Seq(target_vocab=shape.vocab, **options).eval()
    return searnn_ext.Seq2Seq(target_vocab=shape.vocab, **options).eval()


def make_problem(shape: Shape, device: torch.device, seed: int = 0):
    """(model, rollin, candidates, target, target lengths) on `device`."""
    torch.manual_seed(seed)
    model = make_model(shape)
    batch, length = shape.batch, shape.length
    lengths = torch.full((batch,), length)
    if "source_features" in shape.model:
        src = torch.rand(batch, length, shape.model["source_features"])
    else:
        vocabs = shape.model["source_vocab"]
        vocabs = vocabs if isinstance(vocabs, tuple) else (vocabs,)
        src = torch.stack([torch.randint(0, v, (batch, length)) for v in vocabs], -1).squeeze(-1)
    target = torch.randint(1, shape.vocab, (batch, length))
    if model.eos_id is not None:
        target = torch.cat([target, torch.full((batch, 1), model.eos_id)], dim=1)
        lengths = lengths + 1
    steps = target.shape[1]
    candidates = torch.arange(shape.vocab).expand(batch, steps, shape.vocab).contiguous()
    model = model.to(device)
    with torch.no_grad():
        memory = model.encode(src.to(device), torch.full((batch,), length, device=device))
        rollin = searnn_ext.roll_in(model, memory, target.to(device), lengths.to(device))
    return model, rollin, candidates.to(device), target.to(device), lengths.to(device)


def peak_in_a_fresh_process(shape: Shape, backend: str, device: torch.device) -> int | None:
    """The peak memory of one float32 rollout_costs call on the shape's problem, measured in a
    new process (spawned), so that memory an earlier call freed but kept cannot hide it."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_peak, (shape, backend, str(device), torch.get_num_threads()))


def _peak(shape: Shape, backend: str, device_name: str, threads: int) -> int | None:
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    model, rollin, candidates, target, lengths = make_problem(shape, device)
    return peak_memory_bytes(
        lambda: searnn_ext.rollout_costs(
            model, rollin, candidates, target, lengths, cost=shape.cost, backend=backend
        ),
        device,
    )


def gemm_row_steps(shape: Shape, max_length: int) -> int:
    """Roll-out decode steps at full budgets: exact for fixed-length tasks; an upper bound
    for EOS tasks, whose rows may stop early."""
    steps = shape.length if shape.model.get("eos_id") is None else max_length
    per_cell = [max(steps - t - 1, 0) for t in range(shape.length + ("eos_id" in shape.model))]
    return shape.batch * shape.vocab * sum(per_cell)


def gemm_shapes(model) -> list[tuple[int, int]]:
    """(in, out) of each matrix product one decode step of one roll-out needs in the compiled
    loop (layer 0's embedding projection is a table lookup)."""
    if isinstance(model, searnn_ext.TransformerSeq2Seq):
        d_model, ffn = model.d_model, model.decoder[0].ffn[0].out_features
        # Per layer: self-attention's query, keys and values, output; cross-attention's query
        # and output (its keys and values come from the encoder once); the feed-forward network.
        per_layer = [(d_model, d_model), (d_model, 2 * d_model), (d_model, d_model)]
        per_layer += [(d_model, d_model), (d_model, d_model), (d_model, ffn), (ffn, d_model)]
        return per_layer * model.layers + [(d_model, model.target_vocab)]
    hidden = model.hidden_size
    gates = CELLS[model.cell].gates * hidden
    shapes = [(hidden, gates)] * model.num_layers  # hidden side of every layer
    shapes += [(hidden, gates)] * (model.num_layers - 1)  # input side of layers above 0
    if model.input_feeding:
        shapes.append((hidden, gates))
    if model.attention:
        memory_size = model.attention_output.in_features - hidden
        shapes += [(hidden, hidden), (hidden + memory_size, hidden)]
    return shapes + [(hidden, model.target_vocab)]


def gemm_floor(shapes, rows: int, device: torch.device, dtype, loops_gemm: bool = False):
    """The same products as one large torch.mm each (`loops_gemm`: through the CPU decode
    loops' own GEMM, searnn_ext._C.cpu_linear_out, with their [out, in] weights), over `rows`
    rows in blocks of 64k rows, into preallocated outputs: a function running one block, and the
    number of blocks."""
    block = min(rows, 65536)
    operands = [
        (
            torch.rand(block, n_in, device=device, dtype=dtype),
            torch.rand(n_out, n_in, device=device, dtype=dtype),
            torch.empty(block, n_out, device=device, dtype=dtype),
        )
        for n_in, n_out in shapes
    ]

    def run():
        for left, weight, out in operands:
            if loops_gemm:
                _extension._C.cpu_linear_out(out, left, weight)
            else:
                torch.mm(left, weight.t(), out=out)

    return run, rows / block


def measure(shape: Shape, repeats: int, slow_repeats: int, device, dtypes) -> list[list[str]]:
    model, rollin, candidates, target, lengths = make_problem(shape, device)
    max_length = 2 * target.shape[1]

    def costs(backend, dtype=torch.float32, rollout="learned", reference="copy"):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            return searnn_ext.rollout_costs(
                model,
                rollin,
                candidates,
                target,
                lengths,
                rollout=rollout,
                reference=reference,
                cost=shape.cost,
                backend=backend,
            )

    ext, torch_costs = costs("ext"), costs("torch")
    if not torch.equal(ext.isinf(), torch_costs.isinf()):
        raise AssertionError(f"{shape.name}: the backends disagree on which cells count")
    same = (ext == torch_costs).double().mean().item()
    print(f"{shape.name}: float32 costs of the two backends equal on {same:.1%} of entries")
    truth = torch.where(torch.arange(target.shape[1], device=device) < lengths[:, None], target, -1)
    for dtype in dtypes[1:]:
        print(
            f"{shape.name}: {DTYPE_NAMES[dtype]} against float32 roll-outs: "
            f"{agreement(candidates, ext, costs('ext', dtype), truth).describe()}"
        )
    row_steps = gemm_row_steps(shape, max_length)
    runs, repeats_of, labels, scales = {}, {}, {}, {}
    for dtype in dtypes:
        name = DTYPE_NAMES[dtype]
        runs[f"ext {name}"] = lambda dtype=dtype: costs("ext", dtype)
        floor_block, blocks = gemm_floor(gemm_shapes(model), row_steps, device, dtype)
        runs[f"floor {name}"] = floor_block
        scales[f"floor {name}"] = blocks
        repeats_of[f"ext {name}"] = repeats_of[f"floor {name}"] = repeats
        autocast = "" if dtype == torch.float32 else " (autocast)"
        labels[f"ext {name}"] = f"searnn_ext, {name}{autocast}"
        bound = "" if model.eos_id is None else ", upper bound: full budgets"
        labels[f"floor {name}"] = f"GEMM floor, {name}, {row_steps:,} row-steps{bound}"
        # Where the CPU loops' GEMM is not ATen's (oneDNN's float32 matmul), its floor too.
        gemm = searnn_ext.build_info().get("cpu_gemms", {}).get(name, "aten")
        if device.type == "cpu" and gemm != "aten":
            key = f"{gemm} floor {name}"
            runs[key], scales[key] = gemm_floor(
                gemm_shapes(model), row_steps, device, dtype, loops_gemm=True
            )
            repeats_of[key] = repeats
            labels[key] = f"{labels[f'floor {name}']}, the loops' GEMM ({gemm})"
    runs["torch"] = lambda: costs("torch")
    repeats_of["torch"] = slow_repeats
    labels["torch"] = "pure PyTorch, float32"
    if shape.cost == "edit" and model.cell == "gru":  # reference roll-outs decode no cell
        optimal = {
            backend: costs(backend, rollout="reference", reference="optimal")
            for backend in ("ext", "torch")
        }
        if not torch.equal(optimal["ext"], optimal["torch"]):
            raise AssertionError(f"{shape.name}: the backends' optimal reference costs differ")
        for backend, reference in [("ext", "copy"), ("ext", "optimal"), ("torch", "optimal")]:
            key = f"{reference} {backend}"
            runs[key] = lambda b=backend, r=reference: costs(b, rollout="reference", reference=r)
            repeats_of[key] = FAST_REPEATS_FACTOR * repeats  # milliseconds: more repeats are cheap
            method = "searnn_ext" if backend == "ext" else "pure PyTorch"
            labels[key] = f"{method}, {reference} reference roll-outs, float32"
    peaks = {}
    if model.cell == "transformer":
        for key, backend in [("ext float32", "ext"), ("torch", "torch")]:
            peaks[key] = peak_in_a_fresh_process(shape, backend, device)
    seconds = median_seconds(runs, repeats_of, device)
    for key, scale in scales.items():
        seconds[key] *= scale
    base = seconds["ext float32"]
    if "optimal ext" in seconds:
        speedup = base / seconds["optimal ext"]
        print(f"{shape.name}: optimal reference roll-outs {speedup:,.0f}x faster than learned")
    count = f"{int((candidates >= 0).sum()):,}"
    if peaks.get("ext float32") and peaks.get("torch"):
        ratio = peaks["ext float32"] / peaks["torch"]
        print(
            f"{shape.name}: the compiled roll-outs' peak memory is {ratio:.2f}x the PyTorch path's"
        )
    return [
        [
            shape.name,
            count,
            labels[key],
            _milliseconds(seconds[key]),
            _ratio(seconds[key] / base),
            _mebibytes(peaks.get(key)),
        ]
        for key in labels
    ]


def _mebibytes(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:.1f}"


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds > 0.01 else f"{seconds * 1e3:.3f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def run(shapes: list[Shape], repeats: int, slow_repeats: int, device, dtypes) -> None:
    print(f"Machine: {machine_description()}; roll-outs on {device}\n")
    rows = [
        row for shape in shapes for row in measure(shape, repeats, slow_repeats, device, dtypes)
    ]
    print()
    header = ["shape", "roll-outs", "method", "median ms", "x searnn_ext float32 time"]
    print_table([*header, "peak MiB"], rows)
    for row in rows:
        if row[2].startswith("searnn_ext, ") and "float32" not in row[2]:
            verdict = "faster" if float(row[4]) < 1 else "not faster"
            print(
                f"{row[0]}: {row[2]} roll-outs took {row[4]}x the float32 time: {verdict} "
                f"on this {device.type}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser("rollout", __doc__)
    add_timing_options(parser, repeats=5, threads=2)
    parser.add_argument("--quick", action="store_true", help="batches of 4, 1 repeat")
    parser.add_argument(
        "--shapes", nargs="+", choices=[s.name for s in SHAPES], help="default: all"
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        choices=list(DTYPES),
        default=["float32", "bfloat16"],
        help="roll-out precisions beside float32 (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    device = bench_device(args.device)
    dtypes = [torch.float32] + [DTYPES[name] for name in args.dtypes if name != "float32"]
    torch.set_num_threads(args.threads)
    shapes = [s for s in SHAPES if not args.shapes or s.name in args.shapes]
    if args.quick:
        shapes = [dataclasses.replace(s, batch=min(s.batch, 4)) for s in shapes]
        args.repeats = args.slow_repeats = 1
    run(shapes, args.repeats, args.slow_repeats, device, dtypes)


if __name__ == "__main__":
    main()
