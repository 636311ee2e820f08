"""Independent numpy reference ops (NHWC, float64) shared by the backbone and LPIPS tests."""
import numpy as np


def np_conv_relu(x, kernel, bias, stride=1, pad=1):
  """Zero-padded convolution + ReLU, PyTorch-style explicit padding."""
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  kh, kw = kernel.shape[:2]
  win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
  return np.maximum(np.einsum('bhwcij,ijco->bhwo', win, kernel, optimize=True) + bias, 0.0)


def np_max_pool(x, k, s):
  """k x k max pooling with stride s, no padding."""
  win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
  return win.max(axis=(-2, -1))
