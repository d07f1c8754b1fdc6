"""FLOPs of a Keras model counted from its own layers.

Counted (multiply and add = 2 FLOPs):
- Conv2D: 2 * kh * kw * (Cin / groups) * Cout * Hout * Wout, plus Hout * Wout * Cout for a bias;
- Dense: 2 * in * out (+ out for a bias).
Reported separately and NOT included in the headline figure: elementwise layers
(BatchNormalization 2/element in inference form, ReLU, Add, pooling window reads,
softmax), which are memory-bound and under 1% of the arithmetic of ResNet-50.

A training step costs about 3x the forward FLOPs: the forward pass, then the
gradient with respect to the inputs and the gradient with respect to the weights,
each as large as the forward product (the first layer's input gradient is not
needed, so 3x slightly overcounts).

    python benchmarks/flops.py                  # the course's ResNet50 at 64x64x3
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

TRAINING_FACTOR = 3  # forward + backward (input gradient + weight gradient)


def _shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])  # drop the batch dimension


def _layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def count_flops(model: keras.Model) -> dict:
    """Forward FLOPs per image: matrix products (Conv2D, Dense) and elementwise layers."""
    products = elementwise = 0
    for layer in _layers(model):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        out = _shape(layer.output)
        out_size = math.prod(out)
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = _shape(layer.input)[-1] // layer.groups
            products += 2 * kh * kw * cin * out_size + (out_size if layer.use_bias else 0)
        elif isinstance(layer, keras.layers.Dense):
            units_in = _shape(layer.input)[-1]
            rows = out_size // layer.units
            products += rows * (2 * units_in * layer.units + (layer.units if layer.use_bias else 0))
            if layer.activation is keras.activations.softmax:
                elementwise += 3 * out_size
        elif isinstance(layer, keras.layers.BatchNormalization):
            elementwise += 2 * out_size  # scale and shift (inference form)
        elif isinstance(layer, (keras.layers.Activation, keras.layers.ReLU, keras.layers.Add)):
            elementwise += out_size
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            elementwise += out_size * math.prod(layer.pool_size)
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            elementwise += math.prod(_shape(layer.input))
    return {
        "forward_product_flops": products,
        "forward_macs": products // 2,
        "forward_elementwise_flops": elementwise,
        "training_flops": TRAINING_FACTOR * products,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="image height and width")
    parser.add_argument("--classes", type=int, default=6)
    args = parser.parse_args(argv)

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from resnet_keras.models import ResNet50

    shape = (args.size, args.size, 3)
    for name, model in (
        ("resnet_keras.models.ResNet50", ResNet50(shape, args.classes)),
        (
            "keras.applications.ResNet50",
            keras.applications.ResNet50(weights=None, input_shape=shape, classes=args.classes),
        ),
    ):
        flops = count_flops(model)
        print(
            f"{name} at {shape}: {model.count_params():,} parameters, "
            f"{flops['forward_macs'] / 1e9:.3f} GMAC forward, "
            f"{flops['training_flops'] / 1e9:.3f} GFLOP per training image "
            f"(elementwise, not counted: "
            f"{flops['forward_elementwise_flops'] / 1e6:.1f} MFLOP forward)"
        )


if __name__ == "__main__":
    main()
