"""The package's one video writer, with the bundled ffmpeg (`film.media.video_io.ffmpeg_exe`).

* `StreamingVideoWriter`: h264 mp4/mov/mkv (8-bit, or 10-bit for deep sources) or GIF, fed one
  frame at a time; the frame rate is passed to ffmpeg as a rational and the colour tags
  (matrix, primaries, transfer, range) are written — the input's, or BT.709 for images.
* `mux_audio(video, source, output)` copies **every** audio track of `source`.
* A full disk, a quota or a size limit surfaces as that `OSError` on the output path.
"""
from __future__ import annotations

import errno
import os
import subprocess
from typing import Optional

import numpy as np

from film.media.video_io import (BT709, ColorInfo, Rate, ffmpeg_exe, format_rate, parse_rate,
                                 run_ffmpeg)


# ffmpeg's words for the output failures a user fixes (full disk, quota, size limit).
_FFMPEG_OS_ERRORS = {'No space left on device': errno.ENOSPC, 'Disk quota exceeded': errno.EDQUOT,
                     'File too large': errno.EFBIG}


def _os_error(ffmpeg_stderr: str, path: str) -> Optional[OSError]:
  """The `OSError` (errno, `path`) behind an ffmpeg write failure, or None if it is another."""
  for text, number in _FFMPEG_OS_ERRORS.items():
    if text in ffmpeg_stderr:
      return OSError(number, os.strerror(number), path)
  return None


class StreamingVideoWriter:
  """Context manager writing `[H,W,3]` float frames in [0,1] to an h264 video or a GIF.

  Args:
    path: .mp4/.mov/.mkv (h264, yuv420p; yuv444p for odd sizes) or .gif. Written directly
      (callers wanting atomicity pass a temporary name, see `film.media.atomic`).
    height, width: frame size.
    fps: frame rate (a Fraction is passed to ffmpeg exactly, e.g. 48000/1001).
    color: colour tags to convert to and write (the input video's; BT.709 for images).
    bit_depth: 8, or 10 for a 10-bit h264 stream (deep sources).
    crf: x264 quality.
  """

  def __init__(self, path: str, height: int, width: int, fps: Rate,
               color: ColorInfo = BT709, bit_depth: int = 8, crf: float = 18.0):
    self.path, self.height, self.width = path, height, width
    self.fps = parse_rate(fps)
    self.frames = 0
    self._deep = bit_depth > 8 and not path.lower().endswith('.gif')
    args = [ffmpeg_exe(), '-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo',
            '-pix_fmt', 'rgb48le' if self._deep else 'rgb24', '-s', f'{width}x{height}',
            '-r', format_rate(self.fps), '-i', '-']
    if path.lower().endswith('.gif'):
      args += ['-vf', 'split[a][b];[a]palettegen[p];[b][p]paletteuse', '-f', 'gif']
    else:
      odd = height % 2 or width % 2
      pix_fmt = ('yuv444p' if odd else 'yuv420p') + ('10le' if self._deep else '')
      args += ['-vf', f'scale=out_color_matrix={color.sws_matrix()}:out_range={color.range},'
                      f'format={pix_fmt},setparams=colorspace={color.matrix}:color_primaries='
                      f'{color.primaries}:color_trc={color.transfer}:range={color.range}',
               '-c:v', 'libx264', '-crf', str(crf), '-preset', 'medium', '-pix_fmt', pix_fmt,
               '-colorspace', color.matrix, '-color_primaries', color.primaries,
               '-color_trc', color.transfer, '-color_range', color.range]
      if path.lower().endswith(('.mp4', '.mov', '.m4v')):
        args += ['-movflags', '+faststart']
    self._args = args + [path]
    self._proc: Optional[subprocess.Popen] = None

  def __enter__(self) -> 'StreamingVideoWriter':
    self._proc = subprocess.Popen(self._args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    return self

  def add(self, frame: np.ndarray) -> None:
    """Appends one `[H,W,3]` float frame in [0,1]."""
    if frame.shape != (self.height, self.width, 3):
      raise ValueError(f'frame shape {frame.shape} != {(self.height, self.width, 3)}')
    scale, dtype = (65535.0, '<u2') if self._deep else (255.0, np.uint8)
    data = (np.clip(frame, 0.0, 1.0) * scale + 0.5).astype(dtype)
    try:
      self._proc.stdin.write(data.tobytes())
    except BrokenPipeError:
      self._finish()
      raise
    self.frames += 1

  def _finish(self) -> None:
    try:
      self._proc.stdin.close()
    except BrokenPipeError:
      pass
    error = self._proc.stderr.read().decode(errors='replace').strip()
    self._proc.stderr.close()
    if self._proc.wait() != 0:
      raise _os_error(error, self.path) or RuntimeError(
          f'ffmpeg could not write {self.path}: {error.splitlines()[-1:]}')

  def __exit__(self, exc_type, *exc) -> None:
    if exc_type is None:
      self._finish()
    else:
      self._proc.kill()
      self._proc.wait()
      self._proc.stdin.close()
      self._proc.stderr.close()


def mux_audio(video_path: str, source_path: str, output_path: str) -> int:
  """Writes `output_path`: the video of `video_path` plus every audio track of `source_path`.

  Tracks are copied; if the container refuses a codec, all are re-encoded to AAC. Returns the
  number of audio tracks written.
  """
  base = ['-y', '-v', 'error', '-i', video_path, '-i', source_path, '-map', '0:v:0',
          '-map', '1:a', '-c:v', 'copy']
  result = run_ffmpeg(base + ['-c:a', 'copy', output_path])
  if result.returncode != 0:
    result = run_ffmpeg(base + ['-c:a', 'aac', '-b:a', '192k', output_path])
  if result.returncode != 0:
    raise _os_error(result.stderr, output_path) or RuntimeError(
        f'ffmpeg could not add the audio of {source_path}: '
        f'{result.stderr.strip().splitlines()[-1:]}')
  probe = run_ffmpeg(['-i', output_path])
  return sum(1 for line in probe.stderr.splitlines() if 'Stream #0:' in line and 'Audio:' in line)
