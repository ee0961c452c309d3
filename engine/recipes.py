"""The two ImageNet preprocessing recipes of pretrained VGG weights, by name.

`engine.pretrained.recipe_for` picks the preprocessing function for a
weights file. This module adds what a reader of the network input needs:
the recipe's name and the order of the input's colour channels.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.images import CROP, Preprocessed, preprocess_caffe, preprocess_imagenet


@dataclass(frozen=True)
class Recipe:
    """A preprocessing function with its name and its input channel order."""

    name: str  # "torchvision" or "caffe"
    preprocess: Callable[..., Preprocessed]  # (rgb, model_name) -> stages
    channels: tuple[str, str, str]  # the input tensor's channels, in order


RECIPES = {
    "torchvision": Recipe("torchvision", preprocess_imagenet, ("R", "G", "B")),
    "caffe": Recipe("caffe", preprocess_caffe, ("B", "G", "R")),
}


def recipe_of(preprocess: Callable[..., Preprocessed]) -> Recipe:
    """Return the recipe whose preprocessing function is `preprocess`."""
    for recipe in RECIPES.values():
        if recipe.preprocess is preprocess:
            return recipe
    raise ValueError(
        f"unknown preprocessing function {preprocess!r}; expected one of "
        f"{[recipe.preprocess.__name__ for recipe in RECIPES.values()]}")


def colour_input(recipe: Recipe, rgb: tuple[int, int, int]) -> np.ndarray:
    """Return the 3 input values, in the recipe's channel order, of one colour.

    The colour fills a whole photo, which goes through the full recipe, so
    the result is what the network receives at every pixel of that photo.
    """
    photo = np.full((CROP, CROP, 3), rgb, dtype=np.uint8)
    return recipe.preprocess(photo).tensor[0, :, 0, 0]  # (3,)
