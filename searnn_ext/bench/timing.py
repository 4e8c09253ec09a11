"""What every benchmark here shares: its parser and options, medians over repeats, the
machine's description, and a plain-text table."""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

import searnn_ext
from searnn_ext.options import Parser, positive_int, threads


def bench_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of `searnn bench <name>`, described by the first paragraph of `doc`. Like every
    searnn parser, it reports a bad option in one line, with exit status 2."""
    return Parser(prog=f"searnn bench {name}", description=doc.split("\n\n")[0])


def add_threads_option(parser: argparse.ArgumentParser, default: int | None) -> None:
    # Checked here: torch.set_num_threads refuses a count below 1 with a traceback.
    shown = "torch's own choice" if default is None else default
    parser.add_argument(
        "--threads",
        type=threads,
        default=default,
        help=f"torch intra-op threads (default: {shown})",
    )


def add_timing_options(
    parser: argparse.ArgumentParser, *, repeats: int, threads: int | None
) -> None:
    """--repeats, --slow-repeats, --threads and --device: the options of the benchmarks that time
    methods against each other (a repeat count below 1 would leave no time for a median)."""
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=repeats,
        help="timed runs per method (default: %(default)s)",
    )
    parser.add_argument(
        "--slow-repeats",
        type=positive_int,
        default=3,
        help="timed runs of the pure-PyTorch path (default: %(default)s)",
    )
    add_threads_option(parser, threads)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")


def bench_device(name: str) -> torch.device:
    """The device a benchmark runs on: "cpu", or "cuda" where a GPU is visible."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no GPU is visible to torch")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {name!r}")
    return torch.device(name)


def median_seconds(
    runs: dict[str, Callable[[], object]], repeats: dict[str, int], device=None
) -> dict:
    """name -> median wall time of runs[name] over repeats[name] timed calls, after one warm-up
    call each. The calls are interleaved round-robin, so that a slow spell of a shared machine
    falls on every method rather than on whichever ran then. On a GPU each call is timed until
    the device has finished it."""
    finish = torch.cuda.synchronize if torch.device(device or "cpu").type == "cuda" else None

    def timed(run) -> float:
        start = time.perf_counter()
        run()
        if finish:
            finish()
        return time.perf_counter() - start

    for run in runs.values():
        timed(run)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(max(repeats.values())):
        for name, run in runs.items():
            if round_ < repeats[name]:
                times[name].append(timed(run))
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory_bytes(run: Callable[[], object], device) -> int | None:
    """How far memory rose above its level before `run` at its peak: the CUDA allocator's peak
    on a GPU; on the CPU the process's peak resident set (Linux's VmHWM, reset through
    /proc/self/clear_refs). None where the CPU's peak cannot be reset."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    _return_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        before = _status_bytes("VmRSS")
        run()
        return _status_bytes("VmHWM") - before
    except OSError:
        return None


def _return_free_memory() -> None:
    """Hands the C heap's free memory back to the system (glibc's malloc_trim), so that the run
    measured next counts the memory it touches rather than reusing pages already resident."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the peak may read low


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024  # kB
    raise OSError(f"/proc/self/status has no {key}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    info = searnn_ext.build_info()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    kernels = ", ".join(f"{k} {v}" for k, v in info.get("cpu_decoder_kernels", {}).items())
    gemms = ", ".join(f"{k} {v}" for k, v in info.get("cpu_gemms", {}).items())
    return (
        f"{cpu_model()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, {gpu}; searnn_ext CUDA kernels compiled: "
        f"{info['cuda_compiled']} {info['cuda_archs']}; CPU decoder kernels: {kernels}; "
        f"CPU GEMMs: {gemms}"
    )


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, so the output pastes into RESULTS.md as it is."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(f"{c!s:<{w}}" for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
