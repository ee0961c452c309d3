"""`python -m engine train` and `python -m engine gradcheck`."""

import argparse
import json
import sys

from engine.checks import TOLERANCE, run_checks
from engine.cli import CommandError
from engine.datasets import DATASETS, FEATURES
from engine.layers import ACTIVATIONS
from engine.network import INITIALISATIONS
from engine.optim import OPTIMIZERS
from engine.progress import ProgressBar
from engine.training import REGULARISATIONS, TrainConfig, Trainer

DATASET_ALIASES = {"spiral": "spirals", "moon": "moons", "circle": "circles",
                   "blob": "blobs"}


def register(subparsers) -> None:
    defaults = TrainConfig()
    train = subparsers.add_parser(
        "train", help="train a small classifier on a toy dataset",
        description="Train a fully connected network headless and print "
                    "the final train and test loss and accuracy.")
    train.add_argument("--dataset", default=defaults.dataset,
                       help=f"one of {', '.join(DATASETS)}")
    train.add_argument("--points", type=int, default=defaults.n_points,
                       help="number of points (default %(default)s)")
    train.add_argument("--noise", type=float, default=defaults.noise,
                       help="standard deviation of the noise "
                            "(default %(default)s)")
    train.add_argument("--test-fraction", type=float,
                       default=defaults.test_fraction,
                       help="share of points kept for testing "
                            "(default %(default)s)")
    train.add_argument("--hidden", default=",".join(map(str, defaults.hidden)),
                       help="hidden layer sizes, comma-separated; empty for "
                            "none (default %(default)s)")
    train.add_argument("--activation", default=defaults.activation,
                       choices=list(ACTIVATIONS))
    train.add_argument("--features", default=",".join(defaults.features),
                       help=f"comma-separated from {', '.join(FEATURES)}")
    train.add_argument("--init", default=defaults.init,
                       choices=INITIALISATIONS)
    train.add_argument("--regularisation", default="none",
                       choices=REGULARISATIONS)
    train.add_argument("--reg-rate", type=float, default=0.0)
    train.add_argument("--optimizer", default=defaults.optimizer,
                       choices=OPTIMIZERS)
    train.add_argument("--lr", type=float, default=defaults.lr,
                       help="learning rate (default %(default)s)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--json", action="store_true",
                       help="print one JSON object instead of text")
    train.set_defaults(handler=run_train)

    check = subparsers.add_parser(
        "gradcheck", help="check every gradient against central differences",
        description="Compare the backward pass of every layer, activation, "
                    "loss and optimizer step with central differences in "
                    "float64 and print the worst relative error of each.")
    check.add_argument("--json", action="store_true",
                       help="print one JSON object instead of text")
    check.set_defaults(handler=run_gradcheck)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build and validate a `TrainConfig` from parsed arguments."""
    try:
        hidden = [int(n) for n in args.hidden.split(",") if n.strip()]
    except ValueError:
        raise CommandError(
            f"--hidden must be comma-separated integers, got {args.hidden!r}"
        ) from None
    if args.epochs < 0:
        raise CommandError(f"--epochs must be >= 0, got {args.epochs}")
    config = TrainConfig(
        dataset=DATASET_ALIASES.get(args.dataset, args.dataset),
        n_points=args.points, noise=args.noise,
        test_fraction=args.test_fraction, seed=args.seed, hidden=hidden,
        activation=args.activation,
        features=[f.strip() for f in args.features.split(",")],
        init=args.init, regularisation=args.regularisation,
        reg_rate=args.reg_rate, optimizer=args.optimizer, lr=args.lr,
        batch_size=args.batch_size, epochs=args.epochs)
    config.validate()
    return config


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    trainer = Trainer(config)
    bar = ProgressBar(config.epochs, "training", unit=" epochs")
    trainer.train(config.epochs, lambda t: bar.update(t.epoch))
    last = trainer.history[-1]
    result = {"train_loss": last.train_loss, "test_loss": last.test_loss,
              "train_accuracy": last.train_accuracy,
              "test_accuracy": last.test_accuracy,
              "epochs": trainer.epoch, "diverged": trainer.diverged,
              "settings": config.to_dict()}
    if args.json:
        print(json.dumps(result))
    else:
        if trainer.diverged:
            print(f"the cost diverged at epoch {trainer.epoch}; the numbers "
                  f"below are from the last finite epoch. Try a smaller "
                  f"learning rate than {config.lr}.", file=sys.stderr)
        print(f"epoch {last.epoch}: train loss {last.train_loss:.4f}, "
              f"test loss {last.test_loss:.4f}, train accuracy "
              f"{last.train_accuracy:.3f}, test accuracy "
              f"{last.test_accuracy:.3f}")
    return 1 if trainer.diverged else 0


def run_gradcheck(args: argparse.Namespace) -> int:
    results = run_checks()
    failed = [name for name, error in results if not error < TOLERANCE]
    if args.json:
        print(json.dumps({"tolerance": TOLERANCE,
                          "errors": dict(results), "failed": failed}))
    else:
        for name, error in results:
            verdict = "ok" if error < TOLERANCE else "FAILED"
            print(f"{name:24s} {error:9.2e}  {verdict}")
        print(f"{len(results) - len(failed)} of {len(results)} checks below "
              f"{TOLERANCE:g}")
    return 1 if failed else 0
