"""`python -m engine predict IMAGE`: VGG's top classes for a photo."""

import argparse
import json
from pathlib import Path

from engine.images import load_image
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
    rgb = load_image(args.image.read_bytes())
    model = load_pretrained(args.weights)
    predictions = model.classify(rgb, args.top)
    if args.json:
        print(json.dumps([vars(p) for p in predictions]))
        return 0
    for p in predictions:
        print(f"{p.probability:7.2%}  {p.index:4d}  {p.label}")
    return 0
