"""Parameter names of VGG in torchvision and Keras files, mapped to ours.

Our names are those that `engine.vgg.layer_specs` gives: `conv1_1.weight`,
`conv1_1.bias`, ..., `fc8.bias`.
"""

import re

from engine.vgg import LayerSpec

PARAMETER_KINDS = ("conv", "dense")
PARAMETERS = ("weight", "bias")

# torchvision's classifier is Linear, ReLU, Dropout, Linear, ReLU, Dropout,
# Linear, so its dense layers sit at indices 0, 3 and 6.
CLASSIFIER_STEP = 3

CONV_NAME = re.compile(r"conv(\d+)_(\d+)")
KERAS_OUTPUT_LAYER = "predictions"


def expected_shapes(specs: list[LayerSpec]) -> dict[str, tuple[int, ...]]:
    """Map every parameter name of `specs` to its shape, bias after weight."""
    shapes = {}
    for spec in specs:
        if spec.kind in PARAMETER_KINDS:
            shapes[f"{spec.name}.weight"] = spec.shape
            shapes[f"{spec.name}.bias"] = spec.shape[:1]
    return shapes


def torchvision_names(specs: list[LayerSpec]) -> dict[str, str]:
    """Map torchvision's state-dict keys to ours: `features.28.weight` to
    `conv5_3.weight` in VGG-16.

    In torchvision's `features`, each convolution, ReLU and pooling is one
    module and takes one index. The flatten step has no module.
    """
    layer_names = {}
    feature_index = 0
    dense_count = 0
    in_classifier = False
    for spec in specs:
        if spec.kind == "flatten":
            in_classifier = True
        elif not in_classifier:
            if spec.kind == "conv":
                layer_names[f"features.{feature_index}"] = spec.name
            feature_index += 1
        elif spec.kind == "dense":
            index = CLASSIFIER_STEP * dense_count
            layer_names[f"classifier.{index}"] = spec.name
            dense_count += 1
    return {f"{module}.{parameter}": f"{name}.{parameter}"
            for module, name in layer_names.items()
            for parameter in PARAMETERS}


def keras_layer_names(specs: list[LayerSpec]) -> dict[str, str]:
    """Map Keras' VGG layer names to ours: `block1_conv1` to `conv1_1`,
    `fc1` and `fc2` to `fc6` and `fc7`, `predictions` to `fc8`.
    """
    names = {}
    dense = [spec.name for spec in specs if spec.kind == "dense"]
    for spec in specs:
        if spec.kind != "conv":
            continue
        match = CONV_NAME.fullmatch(spec.name)
        if match is None:
            raise ValueError(
                f"convolution name {spec.name!r} does not follow "
                f"conv{{block}}_{{index}}, so it has no Keras name")
        block, index = match.groups()
        names[f"block{block}_conv{index}"] = spec.name
    for count, name in enumerate(dense[:-1], start=1):
        names[f"fc{count}"] = name
    if dense:
        names[KERAS_OUTPUT_LAYER] = dense[-1]
    return names
