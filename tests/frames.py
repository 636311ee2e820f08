"""Small synthetic frame folders the CLI tests share: blurred noise shifted 4 px per frame."""
import os
from typing import Sequence

import cv2
import numpy as np


def write_frame_folders(root, count: int, names: Sequence[str], base_shape: tuple[int, int, int],
                        width: int, rng: np.random.Generator, prefix: str = 'p') -> list[np.ndarray]:
  """Writes root/{prefix}00 .. /{prefix}{count-1:02d}/, each with one PNG per name: crops
  [H,width,3] uint8 of one blurred random `base_shape` image, the j-th shifted 4*j px right
  (a known horizontal motion). Returns the last folder's frames."""
  frames = []
  for i in range(count):
    base = cv2.GaussianBlur(rng.integers(0, 256, base_shape, dtype=np.uint8), (9, 9), 3)
    os.makedirs(root / f'{prefix}{i:02d}')
    frames = [base[:, 4 * j:4 * j + width] for j in range(len(names))]
    for name, frame in zip(names, frames):
      assert cv2.imwrite(str(root / f'{prefix}{i:02d}' / f'{name}.png'), frame)
  return frames
