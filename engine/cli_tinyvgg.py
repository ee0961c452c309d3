"""`python -m engine tinyvgg train` and `python -m engine tinyvgg evaluate`."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from engine.cli import CommandError
from engine.progress import ProgressBar
from engine.shapes import make_shapes
from engine.tinyvgg import (
    BLAS_THREADS_VARIABLE,
    TEST_SEED,
    WEIGHTS_PATH,
    TinyVGGTrainer,
    TrainSettings,
    evaluate,
    load_tinyvgg,
    save_tinyvgg,
    train_tinyvgg,
    weights_digest,
)

DEFAULT_TEST_IMAGES = 2000


def register(subparsers) -> None:
    tinyvgg = subparsers.add_parser(
        "tinyvgg", help="train or evaluate the Tiny VGG shape classifier",
        description="Train the Tiny VGG network on generated shape images, "
                    "or measure its accuracy on fresh ones.")
    # The metavar names the choices in the error for a missing command.
    commands = tinyvgg.add_subparsers(title="commands", dest="tinyvgg_command",
                                      metavar="{train,evaluate}", required=True)
    add_train_parser(commands)
    add_evaluate_parser(commands)


def add_train_parser(commands) -> None:
    defaults = TrainSettings()
    train = commands.add_parser(
        "train", help="train from a seed and write the weights file",
        description="Train Tiny VGG from scratch with Adam and write its "
                    "weights. The same seed and settings give the same "
                    "weights on the same machine and OpenBLAS thread count: "
                    "OPENBLAS_NUM_THREADS=1 with the defaults reproduces the "
                    "shipped file. A progress bar goes to standard error.")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="seed of the images, the initial weights and the "
                            "batch order (default %(default)s)")
    train.add_argument("--epochs", type=int, default=defaults.epochs,
                       help="passes over the training images "
                            "(default %(default)s)")
    train.add_argument("--images", type=int, default=defaults.n_train,
                       help="number of training images (default %(default)s)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size,
                       help="images per Adam step (default %(default)s)")
    train.add_argument("--lr", type=float, default=defaults.lr,
                       help="initial learning rate, which a cosine lowers to "
                            "0 by the last batch (default %(default)s)")
    train.add_argument("--out", type=Path, default=WEIGHTS_PATH,
                       help="weights file to write (default: the shipped "
                            "assets/tinyvgg.npz)")
    train.set_defaults(handler=run_train)


def add_evaluate_parser(commands) -> None:
    evaluate_parser = commands.add_parser(
        "evaluate", help="report the accuracy on freshly generated images",
        description="Generate test images from a seed other than the "
                    "training seed and report the accuracy of a weights "
                    "file, overall and for each class.")
    evaluate_parser.add_argument(
        "--weights", type=Path, default=WEIGHTS_PATH,
        help="weights file to evaluate (default: the shipped "
             "assets/tinyvgg.npz)")
    evaluate_parser.add_argument(
        "--images", type=int, default=DEFAULT_TEST_IMAGES,
        help="number of test images (default %(default)s)")
    evaluate_parser.add_argument(
        "--seed", type=int, default=TEST_SEED,
        help="seed of the test images (default %(default)s)")
    evaluate_parser.add_argument("--json", action="store_true",
                                 help="print one JSON object instead of text")
    evaluate_parser.set_defaults(handler=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    settings = TrainSettings(seed=args.seed, epochs=args.epochs,
                             n_train=args.images, batch_size=args.batch_size,
                             lr=args.lr)
    settings.validate()
    if not args.out.parent.is_dir():
        raise CommandError(
            f"the folder of --out {args.out} does not exist; create it first")
    bar = ProgressBar(settings.epochs * settings.batches_per_epoch, "training",
                      unit=" batches")

    def progress(trainer: TinyVGGTrainer) -> None:
        bar.update(trainer.iteration)

    if os.environ.get(BLAS_THREADS_VARIABLE) != "1":
        print(f"note: the shipped weights were trained with "
              f"{BLAS_THREADS_VARIABLE}=1; another OpenBLAS thread count "
              f"changes the last bits of the weights", file=sys.stderr)
    start = time.perf_counter()
    result = train_tinyvgg(settings, progress=progress)
    seconds = time.perf_counter() - start
    path = save_tinyvgg(args.out, result.network, result.config, settings)
    epochs = f"{settings.epochs} epoch{'s' if settings.epochs != 1 else ''}"
    print(f"trained {epochs} on {settings.n_train:,} images in "
          f"{seconds:.0f} s; mean loss of the last epoch "
          f"{result.epoch_losses[-1]:.4f}")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB), parameters "
          f"SHA-256 {weights_digest(result.network)}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    model = load_tinyvgg(args.weights)
    if args.seed == model.settings.seed:
        raise CommandError(
            f"--seed {args.seed} is the training seed of {args.weights}, so "
            f"the test images would be training images; choose another seed")
    X, y = make_shapes(args.images, args.seed, model.config.input_size)
    result = evaluate(model.network, X, y)
    per_class = dict(zip(model.config.classes,
                         result.class_accuracy().tolist()))
    digest = weights_digest(model.network)
    if args.json:
        print(json.dumps({
            "accuracy": result.accuracy, "images": args.images,
            "seed": args.seed, "class_accuracy": per_class,
            "confusion": result.confusion.tolist(),
            "classes": list(model.config.classes),
            "weights": str(args.weights), "parameters_sha256": digest}))
        return 0
    print(f"accuracy {result.accuracy:.4f} on {args.images:,} test images "
          f"(seed {args.seed})")
    for name, accuracy in per_class.items():
        print(f"  {name:10s} {accuracy:.4f}")
    print(f"weights {args.weights}, parameters SHA-256 {digest}")
    return 0
