"""The `weights` command: fetch, inspect and convert pretrained VGG weights.

    python -m engine weights fetch vgg16 [--url URL] [--cache-dir DIR]
    python -m engine weights info FILE [--config NAME]
    python -m engine weights convert SRC DST [--float16] [--config NAME]
"""

import argparse
import sys
from pathlib import Path
from typing import TextIO

from engine.vgg import CONFIGS
from engine.weights import (
    SOURCES,
    TORCHVISION_URLS,
    LoadedWeights,
    cached_weights_path,
    convert_weights,
    fetch_weights,
    load_weights,
)

MEGABYTE = 1_000_000  # torchvision quotes file sizes in decimal megabytes
BAR_WIDTH = 30


class ProgressBar:
    """Draw download progress as one line of text, redrawn in place.

    A callable `(done_bytes, total_bytes)`, so it can be passed as the
    downloader's progress callback.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        # Looked up now, not at import, so a replaced sys.stderr is used.
        self.stream = stream or sys.stderr
        self.last_text = ""

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            filled = BAR_WIDTH * done // total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            text = (f"[{bar}] {100 * done // total:3d}%  "
                    f"{done / MEGABYTE:.1f} of {total / MEGABYTE:.1f} MB")
        else:
            text = f"{done / MEGABYTE:.1f} MB"
        # Redraw only when the text changes, which bounds the output.
        if text != self.last_text:
            self.stream.write(f"\r{text}")
            self.stream.flush()
            self.last_text = text

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self.last_text:
            self.stream.write("\n")
            self.stream.flush()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights", help="download, inspect and convert pretrained weights",
        description="Read PyTorch (.pth), Keras (.h5) and npz VGG weights.")
    commands = parser.add_subparsers(title="weight commands",
                                     dest="weights_command", required=True)
    fetch = commands.add_parser(
        "fetch", help="download torchvision's weights and cache them as npz")
    fetch.add_argument("config", choices=sorted(TORCHVISION_URLS))
    fetch.add_argument("--url", help="download from URL instead of "
                       "torchvision's; the file name must carry its SHA-256 "
                       "prefix, as in vgg16-397923af.pth")
    fetch.add_argument("--cache-dir", type=Path, help="folder for the npz "
                       "file (default: $XDG_CACHE_HOME/nn-explainer or "
                       "~/.cache/nn-explainer)")
    fetch.set_defaults(handler=run_fetch)

    info = commands.add_parser(
        "info", help="print a weight file's format, layers and shapes")
    info.add_argument("file", type=Path)
    _add_config(info)
    info.set_defaults(handler=run_info)

    convert = commands.add_parser(
        "convert", help="convert a weight file to this project's npz format")
    convert.add_argument("source", type=Path)
    convert.add_argument("destination", type=Path)
    convert.add_argument("--float16", action="store_true",
                         help="store float16, half the size; loading "
                         "converts back to float32")
    _add_config(convert)
    convert.set_defaults(handler=run_convert)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=sorted(CONFIGS),
                        help="VGG configuration (default: inferred from the "
                        "file's parameter names)")


def run_fetch(args: argparse.Namespace) -> int:
    target = cached_weights_path(args.config, args.cache_dir, args.url)
    if target.exists():
        print(f"already cached: {target} (delete it to fetch again)")
        return 0
    bar = ProgressBar()
    try:
        path = fetch_weights(args.config, url=args.url,
                             cache_dir=args.cache_dir, progress=bar)
    finally:
        bar.close()
    print(f"saved {args.config} weights to {path}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    loaded = load_weights(args.file, args.config)
    for line in describe(args.file, loaded):
        print(line)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    loaded = convert_weights(args.source, args.destination, args.config,
                             float16=args.float16)
    dtype = "float16" if args.float16 else "float32"
    size = args.destination.stat().st_size / MEGABYTE
    print(f"wrote {args.destination}: {loaded.config}, {dtype}, "
          f"{loaded.n_params:,} parameters, {size:.1f} MB")
    return 0


def describe(path: Path, loaded: LoadedWeights) -> list[str]:
    """Return the lines of `info`: format, configuration, layer shapes and
    parameter counts."""
    source = SOURCES[loaded.source]
    if loaded.origin != loaded.source:
        source += f", converted from {SOURCES[loaded.origin]}"
    header = (f"{'layer':<10}{'weight shape':<22}{'bias shape':<12}"
              f"{'parameters':>12}")
    lines = [f"file: {path}", f"format: {source}",
             f"stored dtype: {', '.join(loaded.stored_dtypes)}",
             f"config: {loaded.config}", "", header]
    for spec in loaded.specs:
        if not spec.shape:
            continue
        W = loaded.weights[f"{spec.name}.weight"]
        b = loaded.weights[f"{spec.name}.bias"]
        lines.append(f"{spec.name:<10}{W.shape!s:<22}{b.shape!s:<12}"
                     f"{W.size + b.size:>12,}")
    lines.append(f"total parameters: {loaded.n_params:,}")
    return lines
