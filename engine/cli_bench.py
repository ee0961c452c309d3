"""`python -m engine bench`: the engine against PyTorch, with ratios."""

import argparse
import json

from engine.bench import CASES, run_benchmarks, torch_available


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="time the engine against PyTorch on this CPU",
        description="Time each case for the NumPy engine and, when PyTorch "
                    "is importable, for PyTorch in the same run, each in "
                    "its own process, and print the ratios.")
    bench.add_argument("--only", choices=list(CASES), action="append",
                       help="run only this case (repeatable)")
    bench.add_argument("--repeats", type=int, default=10,
                       help="timed runs per case; the median is reported "
                            "(default %(default)s)")
    bench.add_argument("--threads", type=int, default=None,
                       help="threads for both libraries (default: all cores)")
    # Single runs of one case on a shared 2-core machine differed by a
    # factor of two, and three alternating rounds kept most of that out.
    bench.add_argument("--rounds", type=int, default=3,
                       help="measure both sides this many times, taking "
                            "turns, and report the median ratio "
                            "(default %(default)s)")
    bench.add_argument("--json", action="store_true",
                       help="print one JSON object instead of text")
    bench.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
    results = run_benchmarks(args.only or list(CASES), args.repeats,
                             args.threads, args.rounds)
    if args.json:
        print(json.dumps(results))
        return 0
    if not torch_available():
        print("PyTorch is not installed: engine timings only, no ratios.")
    for name, entry in results.items():
        line = (f"{name:14s} numpy {entry['numpy_seconds'] * 1e3:9.3f} ms, "
                f"peak {entry['numpy_peak_bytes'] / 2**20:7.0f} MiB")
        if "numpy_gflops" in entry:
            line += f", {entry['numpy_gflops']:.1f} GFLOP/s"
        if "torch_seconds" in entry:
            line += (f" | torch {entry['torch_seconds'] * 1e3:9.3f} ms, "
                     f"peak {entry['torch_peak_bytes'] / 2**20:7.0f} MiB"
                     f" | time ratio {entry['time_ratio']:.2f}")
            if entry["rounds"] > 1:
                ratios = ", ".join(f"{r:.2f}" for r in entry["time_ratios"])
                line += f" (rounds: {ratios})"
        print(line)
    return 0
