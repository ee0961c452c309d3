"""`python -m engine predict IMAGE`: VGG's top classes for a photo."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.images import enlargement_note, is_strip, load_image_with_notes
from engine.pretrained import load_pretrained


def register(subparsers) -> None:
    predict = subparsers.add_parser(
        "predict", help="classify a photo with pretrained VGG weights",
        description="Print the most probable ImageNet classes of a photo. "
                    "Without --weights, the file cached by `weights fetch "
                    "vgg16` is used.")
    predict.add_argument("image", type=Path, help="a JPEG, PNG or WebP photo")
    predict.add_argument("--weights", type=Path, default=None,
                         help="a .pth, .h5 or .npz weight file")
    predict.add_argument("--top", type=int, default=5,
                         help="number of classes to print (default %(default)s)")
    predict.add_argument("--json", action="store_true",
                         help="print a JSON list of {index, label, probability}")
    predict.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    if not 1 <= args.top <= 1000:
        raise ValueError(f"--top must be between 1 and 1000, got {args.top}")
    rgb = read_photo(args.image)
    model = load_pretrained(args.weights)
    predictions = model.classify(rgb, args.top)
    if args.json:
        print(json.dumps([vars(p) for p in predictions]))
        return 0
    for p in predictions:
        print(f"{p.probability:7.2%}  {p.index:4d}  {p.label}")
    return 0


def read_photo(path: Path) -> np.ndarray:
    """Decode a photo for VGG, printing notes about it to standard error.

    The notes state, for example, that only the first frame of an
    animation is used or that a small photo is enlarged. They go to
    standard error, so that standard output stays plain data such as --json.
    """
    rgb, notes = load_image_with_notes(path.read_bytes())
    height, width = rgb.shape[:2]
    # A strip too long to crop is rejected later, with the model's name,
    # and a note that it was enlarged would contradict that error.
    enlarged = enlargement_note(height, width)
    if enlarged is not None and not is_strip(height, width):
        notes.append(enlarged)
    for note in notes:
        print(f"note: {path}: {note}", file=sys.stderr)
    return rgb
