"""`python -m engine saliency IMAGE --method M --out FILE.png`."""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from engine.cli_predict import read_photo
from engine.predict import class_names
from engine.pretrained import load_pretrained
from engine.progress import ProgressBar
from engine.saliency import SaliencyMap, grad_cam, gradient_saliency, occlusion

METHODS = ("gradient", "gradcam", "occlusion")
OVERLAY_OPACITY = 0.5
# Heatmap colours from cold to hot, interpolated: black, red, yellow, white.
HOT = np.array([[0, 0, 0], [230, 40, 20], [255, 220, 0], [255, 255, 255]],
               np.float32)


def register(subparsers) -> None:
    saliency = subparsers.add_parser(
        "saliency", help="draw which pixels drive a VGG prediction",
        description="Write the photo's 224x224 crop with a saliency map "
                    "over it, for the top class or --class.")
    saliency.add_argument("image", type=Path, help="a JPEG, PNG or WebP photo")
    saliency.add_argument("--method", choices=METHODS, required=True)
    saliency.add_argument("--weights", type=Path, default=None,
                          help="a .pth, .h5 or .npz weight file (default: "
                               "the one `weights fetch` cached)")
    saliency.add_argument("--class", dest="class_index", type=int,
                          default=None, help="ImageNet class index, 0-999 "
                                             "(default: the top class)")
    saliency.add_argument("--layer", default="conv5_3",
                          help="Grad-CAM's convolution (default %(default)s)")
    saliency.add_argument("--out", type=Path, required=True,
                          help="the PNG file to write")
    saliency.set_defaults(handler=run_saliency)


def compute(method: str, network, X: np.ndarray, class_index: int | None,
            layer: str) -> SaliencyMap:
    """Run one saliency method; `layer` names a convolution for Grad-CAM."""
    if method == "gradient":
        return gradient_saliency(network, X, class_index)
    if method == "gradcam":
        # Grad-CAM reads the ReLU after the convolution, whose output is >= 0.
        return grad_cam(network, X, layer.replace("conv", "relu", 1),
                        class_index)
    bar = ProgressBar(1, "occlusion", unit=" passes")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    return occlusion(network, X, class_index, progress=progress)


def overlay(rgb: np.ndarray, heatmap: np.ndarray,
            opacity: float = OVERLAY_OPACITY) -> np.ndarray:
    """Blend a [0, 1] heatmap, coloured cold to hot, over an RGB photo."""
    scaled = heatmap * (len(HOT) - 1)
    low = np.clip(np.floor(scaled).astype(int), 0, len(HOT) - 2)
    weight = (scaled - low)[..., None]
    colours = HOT[low] * (1 - weight) + HOT[low + 1] * weight
    blended = (1 - opacity) * rgb + opacity * colours
    return np.clip(blended, 0, 255).astype(np.uint8)


def run_saliency(args: argparse.Namespace) -> int:
    if args.class_index is not None and not 0 <= args.class_index < 1000:
        raise ValueError(
            f"--class must be between 0 and 999, got {args.class_index}")
    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {args.out}")
    rgb = read_photo(args.image)
    model = load_pretrained(args.weights)
    stages = model.prepare(rgb)
    result = compute(args.method, model.network, stages.tensor,
                     args.class_index, args.layer)
    Image.fromarray(overlay(stages.cropped, result.heatmap)).save(args.out)
    name = class_names()[result.class_index]
    print(f"wrote {args.out}: {args.method} map for class "
          f"{result.class_index} ({name})")
    return 0
