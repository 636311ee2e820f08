"""Video decoding, streaming encoding and audio muxing with the bundled ffmpeg (imageio-ffmpeg).

* `probe_video(path)` -> `VideoInfo` (size, fps, frame count, audio present, duration).
* `read_video_frames(path)` streams [H,W,3] float32 frames in [0,1] from an ffmpeg pipe. (We do
  not use `mediapy.VideoReader`: mediapy 1.2.7 passes `-vsync`, which ffmpeg 9 removed.)
* `StreamingVideoWriter` wraps `mediapy.VideoWriter` (h264 mp4, or GIF with `codec='gif'`):
  frames are piped to ffmpeg one at a time, so memory does not grow with the output length
  (exception: GIF, whose global palette makes ffmpeg buffer the frames).
* `mux_audio(video, source, output)` copies the source's first audio track into the video
  (stream copy, or AAC re-encode if the container refuses the codec).
No system ffmpeg is needed: `ffmpeg_exe()` is `imageio_ffmpeg.get_ffmpeg_exe()`.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Iterator, NamedTuple, Optional

import imageio_ffmpeg
import mediapy
import numpy as np

from film import image_io

VIDEO_EXTENSIONS = ('.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v', '.gif')


class VideoReadError(ValueError):
  """A video file is missing, empty, corrupt or has no video stream."""


class VideoInfo(NamedTuple):
  """Facts about a video file: frame size, frame rate, number of frames, audio track presence,
  container duration in seconds (None if unknown)."""
  path: str
  height: int
  width: int
  fps: float
  num_frames: int
  has_audio: bool
  duration: Optional[float]


def ffmpeg_exe() -> str:
  """Path of the ffmpeg binary bundled with imageio-ffmpeg (also set for mediapy)."""
  exe = imageio_ffmpeg.get_ffmpeg_exe()
  mediapy.set_ffmpeg(exe)
  return exe


def _run(args: list[str]) -> subprocess.CompletedProcess:
  return subprocess.run([ffmpeg_exe(), '-hide_banner', '-nostdin'] + args,
                        capture_output=True, text=True, errors='replace')


def probe_video(path: str) -> VideoInfo:
  """Reads the stream headers and counts the frames (by packet copy, no decoding)."""
  if not os.path.isfile(path):
    raise VideoReadError(f'{path}: no such file')
  if os.path.getsize(path) == 0:
    raise VideoReadError(f'{path}: empty file (0 bytes); replace it with a valid video')
  result = _run(['-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-'])
  err = result.stderr
  video_line = next((line for line in err.splitlines()
                     if 'Stream #0:' in line and 'Video:' in line), None)
  if result.returncode != 0 or video_line is None:
    last = err.strip().splitlines()[-1] if err.strip() else 'unknown error'
    raise VideoReadError(f'{path}: not a readable video ({last}); replace or re-encode it')
  size = re.search(r', (\d{2,})x(\d{2,})', video_line)
  fps = re.search(r', ([\d.]+)(k?) fps', video_line) or re.search(r', ([\d.]+)(k?) tbr',
                                                                   video_line)
  if not size or not fps:
    raise VideoReadError(f'{path}: cannot parse the video stream header ({video_line.strip()})')
  width, height = int(size.group(1)), int(size.group(2))
  rotation = re.search(r'rotation of (-?[\d.]+) degrees', err)
  if rotation and int(abs(float(rotation.group(1)))) % 180 == 90:
    width, height = height, width
  rate = float(fps.group(1)) * (1000 if fps.group(2) else 1)
  frames = re.findall(r'frame= *(\d+)', err)
  duration = re.search(r'Duration: (\d+):(\d+):([\d.]+)', err)
  seconds = (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 +
             float(duration.group(3))) if duration else None
  has_audio = any('Stream #0:' in line and 'Audio:' in line for line in err.splitlines())
  return VideoInfo(path, height, width, rate, int(frames[-1]) if frames else -1, has_audio,
                   seconds)


def read_video_frames(path: str, info: Optional[VideoInfo] = None) -> Iterator[np.ndarray]:
  """Streams the frames of `path` as [H,W,3] float32 in [0,1] (one frame in memory at a time).

  Raises VideoReadError if ffmpeg fails or the stream ends with a partial frame.
  """
  info = info or probe_video(path)
  frame_bytes = info.height * info.width * 3
  proc = subprocess.Popen(
      [ffmpeg_exe(), '-v', 'error', '-nostdin', '-i', path, '-map', '0:v:0', '-f', 'rawvideo',
       '-pix_fmt', 'rgb24', '-fps_mode', 'passthrough', '-'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    while True:
      data = proc.stdout.read(frame_bytes)
      if not data:
        break
      if len(data) != frame_bytes:
        raise VideoReadError(f'{path}: truncated frame data; the video is corrupt')
      frame = np.frombuffer(data, np.uint8).reshape(info.height, info.width, 3)
      yield frame.astype(np.float32) / np.float32(255.0)
    proc.wait()
    if proc.returncode != 0:
      message = proc.stderr.read().decode(errors='replace').strip().splitlines()
      raise VideoReadError(f'{path}: decoding failed ({message[-1] if message else "?"})')
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    proc.stdout.close()
    proc.stderr.close()


class StreamingVideoWriter:
  """Context manager writing frames [H,W,3] float in [0,1] to an mp4 (h264) or GIF file.

  Writes go straight to `path` (callers wanting atomicity pass a temp name and rename).
  Odd sizes are encoded as yuv444p (mediapy's choice); even sizes as yuv420p.
  """

  def __init__(self, path: str, height: int, width: int, fps: float, crf: float = 18.0):
    ffmpeg_exe()
    codec = 'gif' if path.lower().endswith('.gif') else 'h264'
    kwargs = {} if codec == 'gif' else {'crf': crf}
    self._writer = mediapy.VideoWriter(path, (height, width), fps=fps, codec=codec, **kwargs)
    self.frames = 0

  def __enter__(self) -> 'StreamingVideoWriter':
    self._writer.__enter__()
    return self

  def add(self, frame: np.ndarray) -> None:
    self._writer.add_image(image_io.to_uint(frame, 8))
    self.frames += 1

  def __exit__(self, *exc) -> None:
    self._writer.__exit__(*exc)


def mux_audio(video_path: str, source_path: str, output_path: str) -> None:
  """Writes `output_path`: the video stream of `video_path` plus the first audio track of
  `source_path` (copied; re-encoded to AAC if the output container cannot hold it)."""
  base = ['-y', '-v', 'error', '-i', video_path, '-i', source_path, '-map', '0:v:0',
          '-map', '1:a:0', '-c:v', 'copy']
  result = _run(base + ['-c:a', 'copy', output_path])
  if result.returncode != 0:
    result = _run(base + ['-c:a', 'aac', '-b:a', '192k', output_path])
  if result.returncode != 0:
    raise RuntimeError(f'ffmpeg could not add the audio of {source_path}: '
                       f'{result.stderr.strip().splitlines()[-1:]}')
