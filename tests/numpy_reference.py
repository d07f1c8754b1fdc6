"""A small NumPy forward pass of the residual blocks, written independently of Keras.

Used by the tests to check the Keras blocks value for value. Arrays are NHWC.
"""

import numpy as np

BN_EPSILON = 1e-3  # keras.layers.BatchNormalization's default


def conv2d(x, kernel, bias, stride=1, padding="valid"):
    """x (N, H, W, C), kernel (k, k, C, F), bias (F,) -> (N, H', W', F)."""
    k = kernel.shape[0]
    n, h, w, _ = x.shape
    if padding == "same":
        out_h, out_w = -(-h // stride), -(-w // stride)
        pad_h = max((out_h - 1) * stride + k - h, 0)
        pad_w = max((out_w - 1) * stride + k - w, 0)
        x = np.pad(
            x, [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)]
        )
    else:
        out_h, out_w = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, out_h, out_w, kernel.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out + bias


def batch_norm(x, gamma, beta, moving_mean, moving_var, training):
    """Normalize over the channel axis: batch statistics when training, moving ones otherwise."""
    if training:
        mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    else:
        mean, var = moving_mean, moving_var
    return gamma * (x - mean) / np.sqrt(var + BN_EPSILON) + beta


def relu(x):
    return np.maximum(x, 0)


def conv_bn(x, params, stride=1, padding="valid", training=True, activation=True):
    """params: dict with kernel, bias, gamma, beta, mean, var."""
    y = conv2d(x, params["kernel"], params["bias"], stride, padding)
    y = batch_norm(y, params["gamma"], params["beta"], params["mean"], params["var"], training)
    return relu(y) if activation else y


def bottleneck(x, main, projection, stride, training, shortcut=True):
    """main: three conv_bn param dicts; projection: one dict or None (identity shortcut)."""
    y = conv_bn(x, main[0], stride=stride, training=training)
    y = conv_bn(y, main[1], padding="same", training=training)
    y = conv_bn(y, main[2], training=training, activation=False)
    if shortcut:
        side = (
            x
            if projection is None
            else conv_bn(x, projection, stride, training=training, activation=False)
        )
        y = y + side
    return relu(y)
