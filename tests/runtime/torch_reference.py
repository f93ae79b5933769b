#!/usr/bin/python3
"""Reference values for the convolution, pooling and batch-norm ops from PyTorch, an
implementation independent of stepjit's. Writes tests/runtime/torch_reference/<case>_<name>.npy:
the inputs (x, kernel, gamma, beta, w), the forward output y, and the gradients of
loss = sum(y * w) with respect to every input (dx, dkernel, dgamma, dbeta), all float64.
tests/runtime/torch_reference_test.cpp builds the same graphs with stepjit's ops and compares,
so CI needs no Python. Rerun after changing a case:

    /usr/bin/python3 tests/runtime/torch_reference.py     (Debian's python3-torch)

stepjit is NHWC with kernels [KH, KW, C/groups, F] (TensorFlow's layouts); PyTorch is NCHW with
weights [F, C/groups, KH, KW]: the script converts. TensorFlow's `same` padding (the odd pixel at
the bottom/right) is computed here from its definition and applied with F.pad, since PyTorch's
own padding is symmetric.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_reference")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261204)


def same_pads(size, window, stride, dilation=1):
    """TensorFlow's same padding of one axis: (before, after)."""
    out = math.ceil(size / stride)
    span = (window - 1) * dilation + 1
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def pads_nchw(x, kernel_hw, strides, dilations, padding):
    """(left, right, top, bottom) for F.pad of an NCHW tensor."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding != "same":
        top, bottom, left, right = padding
        return (left, right, top, bottom)
    top, bottom = same_pads(x.shape[2], kernel_hw[0], strides[0], dilations[0])
    left, right = same_pads(x.shape[3], kernel_hw[1], strides[1], dilations[1])
    return (left, right, top, bottom)


def tensor(shape):
    return torch.tensor(rng.uniform(-1, 1, size=shape), requires_grad=True)


def save(case, **arrays):
    for name, a in arrays.items():
        a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
        np.save(os.path.join(OUT, f"{case}_{name}.npy"), np.ascontiguousarray(a, dtype=np.float64))


def finish(case, y_nhwc, inputs):
    """Saves y, w and the gradients of sum(y * w) with respect to `inputs` (name -> tensor)."""
    w = torch.tensor(rng.uniform(-1, 1, size=y_nhwc.shape))
    (y_nhwc * w).sum().backward()
    save(case, y=y_nhwc, w=w, **{name: t for name, t in inputs.items()},
         **{"d" + name: t.grad for name, t in inputs.items()})


def conv_case(case, x_shape, k_shape, strides=(1, 1), padding="valid", dilations=(1, 1),
              groups=1):
    x, k = tensor(x_shape), tensor(k_shape)                    # NHWC, [KH, KW, C/g, F]
    xc = x.permute(0, 3, 1, 2)
    weight = k.permute(3, 2, 0, 1)                             # [F, C/g, KH, KW]
    xc = F.pad(xc, pads_nchw(xc, k_shape[:2], strides, dilations, padding))
    y = F.conv2d(xc, weight, stride=strides, dilation=dilations, groups=groups)
    finish(case, y.permute(0, 2, 3, 1), {"x": x, "kernel": k})


def pool_case(case, kind, x_shape, window, strides, padding):
    x = tensor(x_shape)
    xc = x.permute(0, 3, 1, 2)
    pads = pads_nchw(xc, window, strides, (1, 1), padding)
    if kind == "max":
        # Padding never wins: -inf.
        y = F.max_pool2d(F.pad(xc, pads, value=-math.inf), window, strides)
    else:
        # The mean over the real pixels only (TensorFlow's avg_pool): window sums over the
        # zero-padded input divided by the number of real pixels in each window.
        sums = F.avg_pool2d(F.pad(xc, pads), window, strides, divisor_override=1)
        ones = torch.ones_like(xc)
        counts = F.avg_pool2d(F.pad(ones, pads), window, strides, divisor_override=1)
        y = sums / counts
    finish(case, y.permute(0, 2, 3, 1), {"x": x})


def batch_norm_case(case, x_shape, momentum, epsilon):
    """Training mode over every axis but the last; Keras's moving statistics (biased variance)."""
    x = tensor(x_shape)
    channels = x_shape[-1]
    gamma = torch.tensor(rng.uniform(0.5, 1.5, size=channels), requires_grad=True)
    beta = tensor((channels,))
    flat = x.reshape(-1, channels)
    y = F.batch_norm(flat, None, None, gamma, beta, training=True, eps=epsilon).reshape(x_shape)
    mean = flat.detach().mean(0).numpy()
    var = flat.detach().var(0, unbiased=False).numpy()
    save(case, moving_mean=momentum * 0 + (1 - momentum) * mean,
         moving_variance=momentum * 1 + (1 - momentum) * var)
    finish(case, y, {"x": x, "gamma": gamma, "beta": beta})


conv_case("conv_same_stride2", (2, 7, 6, 3), (3, 3, 3, 4), strides=(2, 2), padding="same")
conv_case("conv_dilated_groups", (1, 8, 7, 4), (3, 2, 2, 6), dilations=(2, 1), groups=2)
conv_case("conv_depthwise_same", (2, 5, 5, 3), (3, 3, 1, 6), padding="same", groups=3)
conv_case("conv_explicit_1x1_stride3", (1, 7, 8, 5), (1, 1, 5, 2), strides=(3, 2),
          padding=(1, 0, 2, 1))
conv_case("conv_kernel_as_large_as_input", (3, 4, 5, 2), (4, 5, 2, 3))
pool_case("max_pool_same_3x3_stride2", "max", (2, 7, 6, 3), (3, 3), (2, 2), "same")
pool_case("max_pool_2x2", "max", (2, 6, 6, 4), (2, 2), (2, 2), "valid")
pool_case("avg_pool_same_3x3_stride2", "avg", (2, 7, 6, 3), (3, 3), (2, 2), "same")
pool_case("avg_pool_2x3_stride1", "avg", (1, 5, 6, 2), (2, 3), (1, 1), "valid")
batch_norm_case("batch_norm", (4, 3, 3, 5), 0.99, 1e-3)
print(f"wrote {len(os.listdir(OUT))} files to {OUT}")
