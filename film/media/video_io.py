"""The package's one video reader, with the bundled ffmpeg (imageio-ffmpeg); its writer is
`film.media.video_encode`.

Used by inference (`film.inference.pipeline`) and dataset creation (`film.datasets.frames`).

* `probe_video(path)` -> `VideoInfo`: displayed size (rotation applied), the **exact** frame
  count (one packet per frame, counted by a stream copy, no decoding), the frame rate as a
  `fractions.Fraction` taken from the timestamps (24000/1001 stays 24000/1001, not ffmpeg's
  printed "23.98"), variable frame rate detection, bit depth, colour tags and audio tracks.
  A file whose tail is cut off (`partial file`) is reported as truncated, with the numbers.
* `read_video_frames(path)` streams `[H,W,3]` float32 frames in [0,1] from an ffmpeg pipe:
  8-bit sources as rgb24, deeper ones (10-bit, HDR) as rgb48 (full precision kept); it checks
  that it decoded exactly `num_frames` frames.
* Writing (`StreamingVideoWriter`, `mux_audio`) lives in `film.media.video_encode`.
* `ffmpeg_exe()` is the one place that locates ffmpeg (`imageio_ffmpeg.get_ffmpeg_exe()`).
* `parse_rate('24000/1001' | '29.97' | 30)` -> Fraction (NTSC decimals snap to n*1000/1001).
"""
from __future__ import annotations

import dataclasses
import fractions
import os
import re
import subprocess
from typing import Iterator, Optional, Union

import numpy as np

from film.cli import UserError

# imageio-ffmpeg starts ffmpeg with `preexec_fn=os.setpgrp` unless this is set; that preexec_fn
# forces a fork() that runs gRPC's (Beam's) fork handlers in the child, which intermittently
# killed ffmpeg before it started. With it set, Python spawns ffmpeg without running handlers.
os.environ.setdefault('IMAGEIO_FFMPEG_NO_PREVENT_SIGINT', '1')

VIDEO_EXTENSIONS = ('.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v', '.gif', '.y4m', '.mpg',
                    '.mpeg')
VIDEO_OUTPUT_EXTENSIONS = ('.mp4', '.mov', '.mkv', '.gif')
Fraction = fractions.Fraction
Rate = Union[Fraction, float, int, str]

# Frame rates a measured rate snaps to when timestamps are rounded (e.g. a 1 ms time base).
_NTSC = tuple(Fraction(k * 1000, 1001) for k in (24, 30, 48, 60, 120, 240))
STANDARD_RATES = tuple(sorted(set(_NTSC) | {Fraction(k) for k in range(1, 241)}))

# ffmpeg colour names: matrix -> swscale matrix name; and what images / untagged video get.
_SWS_MATRIX = {'bt709': 'bt709', 'smpte170m': 'bt601', 'bt470bg': 'bt601', 'bt2020nc': 'bt2020',
               'bt2020c': 'bt2020', 'fcc': 'fcc', 'smpte240m': 'smpte240m'}


class VideoReadError(UserError):
  """A video file is missing, empty, corrupt, truncated, variable-rate or has no video stream."""


@dataclasses.dataclass(frozen=True)
class ColorInfo:
  """Colour tags of a stream (ffmpeg names): YUV matrix, primaries, transfer, range."""
  matrix: str = 'bt709'
  primaries: str = 'bt709'
  transfer: str = 'bt709'
  range: str = 'tv'

  def sws_matrix(self) -> str:
    return _SWS_MATRIX.get(self.matrix, 'bt709')


BT709 = ColorInfo()
BT601 = ColorInfo('smpte170m', 'smpte170m', 'smpte170m', 'tv')


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """Facts about a video file.

  Attributes:
    path: the file.
    height, width: displayed frame size (rotation metadata applied, as frames are decoded).
    fps: frame rate, exact rational (from the timestamps).
    num_frames: exact number of frames (packets of the first video stream).
    has_audio: whether there is at least one audio track; `audio_tracks` counts them.
    duration: container duration in seconds (None if unknown); may exceed the video's.
    bit_depth: bits per colour sample of the source (8, 10, 12, ...).
    color: colour tags used for decoding, and for the written output.
    rotation: display rotation in degrees (0, 90, 180, 270).
    pix_fmt: the stream's pixel format (e.g. 'yuv420p10le').
  """
  path: str
  height: int
  width: int
  fps: Fraction
  num_frames: int
  has_audio: bool
  duration: Optional[float]
  audio_tracks: int = 0
  bit_depth: int = 8
  color: ColorInfo = BT709
  rotation: int = 0
  pix_fmt: str = 'yuv420p'

  @property
  def frame_duration(self) -> Fraction:
    return 1 / self.fps

  @property
  def video_seconds(self) -> Fraction:
    """Exact duration of the video stream: num_frames / fps."""
    return self.num_frames / self.fps


def ffmpeg_exe() -> str:
  """Path of the ffmpeg binary bundled with imageio-ffmpeg (no system ffmpeg needed)."""
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess:
  """Runs ffmpeg with `args` (no stdin), capturing text output."""
  return subprocess.run([ffmpeg_exe(), '-hide_banner', '-nostdin'] + args,
                        capture_output=True, text=True, errors='replace')


def parse_rate(value: Rate) -> Fraction:
  """A frame rate as an exact Fraction: '24000/1001', '30', 29.97, Fraction(...).

  Decimals within 0.0005 of an NTSC rate n*1000/1001 (23.976, 29.97, 59.94) mean that rate.
  Raises ValueError for unparsable or non-positive values.
  """
  if isinstance(value, Fraction):
    rate = value
  else:
    text = str(value).strip()
    try:
      rate = Fraction(text)
    except (ValueError, ZeroDivisionError) as e:
      raise ValueError(f'not a frame rate: {value!r} (use e.g. 30, 29.97 or 30000/1001)') from e
    if '/' not in text and rate.denominator != 1:
      rate = next((r for r in _NTSC if abs(r - rate) < Fraction(1, 2000)), rate)
  if rate <= 0:
    raise ValueError(f'a frame rate must be > 0 (got {value})')
  return rate


def format_rate(rate: Fraction) -> str:
  """'48000/1001' or '48' (what ffmpeg's -r takes exactly)."""
  return str(rate.numerator) if rate.denominator == 1 else f'{rate.numerator}/{rate.denominator}'


def _bit_depth(pix_fmt: str) -> int:
  """Bits per sample of an ffmpeg pixel format: yuv420p -> 8, yuv420p10le / p010le -> 10."""
  if pix_fmt.startswith(('rgb48', 'bgr48', 'rgba64', 'bgra64')):
    return 16
  match = re.search(r'(\d+)(le|be)$', pix_fmt)
  return int(match.group(1)) if match and 8 < int(match.group(1)) <= 16 else 8


def _parse_color(video_line: str, height: int) -> tuple[str, ColorInfo]:
  """(pix_fmt, colour tags) from ffmpeg's stream line, e.g.
  'yuv420p10le(tv, bt2020nc/bt2020/smpte2084, progressive)'; untagged parts get what players
  assume (BT.709 from 720 lines up, else BT.601)."""
  match = re.search(r'Video: [^,]+(?:\([^)]*\))?[^,]*, (\w+)(?:\(([^)]*)\))?', video_line)
  pix_fmt = match.group(1) if match else 'yuv420p'
  default = BT709 if height >= 720 else BT601
  fields = {'range': None, 'matrix': None, 'primaries': None, 'transfer': None}
  for token in (match.group(2) or '').split(',') if match else []:
    token = token.strip()
    if token in ('tv', 'pc'):
      fields['range'] = token
    elif '/' in token and token.count('/') == 2:
      fields['matrix'], fields['primaries'], fields['transfer'] = token.split('/')
    elif token in _SWS_MATRIX:
      fields['matrix'] = fields['primaries'] = fields['transfer'] = token
      if token == 'bt470bg':
        fields['transfer'] = 'gamma28'
  if fields['matrix'] == 'unknown':
    fields['matrix'] = None
  color = ColorInfo(
      matrix=fields['matrix'] or default.matrix,
      primaries=(fields['primaries'] if fields['primaries'] not in (None, 'unknown')
                 else default.primaries if fields['matrix'] is None else
                 {'bt2020nc': 'bt2020', 'bt2020c': 'bt2020'}.get(fields['matrix'],
                                                                fields['matrix'])),
      transfer=(fields['transfer'] if fields['transfer'] not in (None, 'unknown')
                else default.transfer),
      range=fields['range'] or 'tv')
  return pix_fmt, color


def _rate_from_timestamps(pts: list[int], time_base: Fraction, path: str) -> Fraction:
  """Exact frame rate from the sorted presentation timestamps of every frame.

  Raises VideoReadError for a variable frame rate: a frame more than half a frame interval
  away from where a constant rate puts it.
  """
  span = pts[-1] - pts[0]
  count = len(pts) - 1
  if span <= 0:
    raise VideoReadError(f'{path}: its frames have no increasing timestamps; re-encode it '
                         '(ffmpeg -i IN -c:v libx264 OUT.mp4)')
  mean = Fraction(span, count)
  jitter = max(abs(p - pts[0] - i * mean) for i, p in enumerate(pts))
  if jitter > mean / 2:
    steps = [b - a for a, b in zip(pts, pts[1:])]
    shortest, longest = (float(min(steps) * time_base * 1000), float(max(steps) * time_base * 1000))
    raise VideoReadError(
        f'{path} has a variable frame rate (frame intervals {shortest:.1f}-{longest:.1f} ms); '
        'convert it to a constant rate first: ffmpeg -i IN -fps_mode cfr -r RATE OUT.mp4')
  steps = {b - a for a, b in zip(pts, pts[1:])}
  if len(steps) == 1:  # every interval the same number of ticks: exact
    return 1 / (steps.pop() * time_base)
  measured = 1 / (mean * time_base)
  # Rounded timestamps (e.g. 1 ms ticks): the standard rate whose frame times stay within a
  # tick of the measured ones over the whole clip; else the measured rate itself.
  tolerance = (Fraction(3, 2) * time_base) / (span * time_base)
  best = min(STANDARD_RATES, key=lambda r: abs(r - measured))
  if abs(best - measured) / measured <= tolerance:
    return best
  return measured.limit_denominator(100000)


_PACKET_FLAG_DISCARD = 0x4  # AV_PKT_FLAG_DISCARD: decoded, then dropped (an edit list's trim)


def shown_packet_pts(framecrc: str) -> list[int]:
  """The sorted pts of the packets that become shown frames, from ffmpeg's `framecrc` output.

  Rows are `stream, dts, pts, duration, size, crc[, F=0xFLAGS]` (no `F=` means a key frame).
  Packets flagged discard are left out: an mp4 cut by stream copy (`ffmpeg -ss/-t -c copy`) or
  trimmed by an edit list holds packets that decode to no shown frame, so counting every
  packet would overcount (OpenCV's box.mp4: 456 packets, 455 frames).
  """
  pts = []
  for row in framecrc.splitlines():
    if not row or row.startswith('#'):
      continue
    fields = [field.strip() for field in row.split(',')]
    flags = next((int(f[2:], 16) for f in fields[6:] if f.startswith('F=')), 0x1)
    if not flags & _PACKET_FLAG_DISCARD:
      pts.append(int(fields[2]))
  return sorted(pts)


def probe_video(path: str) -> VideoInfo:
  """Reads the stream headers and every packet's timestamp (stream copy, no decoding).

  Raises VideoReadError (one line naming the file and the fix) for a missing, empty,
  unreadable, truncated or variable-frame-rate file.
  """
  if not os.path.isfile(path):
    raise VideoReadError(f'{path}: no such file; check the path')
  if os.path.getsize(path) == 0:
    raise VideoReadError(f'{path}: empty file (0 bytes); replace it with a valid video')
  result = run_ffmpeg(['-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'framecrc', '-'])
  err = result.stderr
  lines = err.splitlines()
  video_line = next((line for line in lines if 'Stream #0:' in line and 'Video:' in line), None)
  if result.returncode != 0 or video_line is None:
    last = err.strip().splitlines()[-1] if err.strip() else 'unknown error'
    raise VideoReadError(f'{path}: not a readable video ({last.strip()}); replace or re-encode '
                         'it')
  size = re.search(r', (\d{1,5})x(\d{1,5})', video_line)
  tb = re.search(r'^#tb 0: (\d+)/(\d+)', result.stdout, re.M)
  pts = shown_packet_pts(result.stdout)
  if not size or not tb or not pts:
    raise VideoReadError(f'{path}: no video frames found ({video_line.strip()}); re-encode it')
  width, height = int(size.group(1)), int(size.group(2))
  rotation = re.search(r'rotation of (-?[\d.]+) degrees', err)
  degrees = int(round(float(rotation.group(1)))) % 360 if rotation else 0
  if degrees in (90, 270):
    width, height = height, width
  duration = re.search(r'Duration: (\d+):(\d+):([\d.]+)', err)
  seconds = (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 +
             float(duration.group(3))) if duration else None
  header_fps = re.search(r', ([\d.]+)(k?) (?:fps|tbr)', video_line)
  if re.search(r'partial file|truncat|Invalid data found|error reading header', err, re.I):
    fps = parse_rate(float(header_fps.group(1)) * (1000 if header_fps.group(2) else 1)
                     ) if header_fps else None
    expected = f' of about {round(seconds * fps)} by its header' if seconds and fps else ''
    raise VideoReadError(
        f'{path} is truncated: only {len(pts)} frames{expected} are readable; re-download or '
        f're-copy it (or keep the readable part: ffmpeg -i {path} -c copy FIXED.mp4)')
  if len(pts) >= 2:
    fps = _rate_from_timestamps(pts, Fraction(int(tb.group(1)), int(tb.group(2))), path)
  elif header_fps:
    fps = parse_rate(float(header_fps.group(1)) * (1000 if header_fps.group(2) else 1))
  else:
    fps = Fraction(25)
  audio_tracks = sum(1 for line in lines if 'Stream #0:' in line and 'Audio:' in line)
  pix_fmt, color = _parse_color(video_line, height)
  return VideoInfo(path, height, width, fps, len(pts), audio_tracks > 0, seconds,
                   audio_tracks=audio_tracks, bit_depth=_bit_depth(pix_fmt), color=color,
                   rotation=degrees, pix_fmt=pix_fmt)


def _decode_args(info: VideoInfo, start: int, count: Optional[int], deep: bool) -> list[str]:
  args = ['-v', 'error', '-nostdin']
  if start > 0:  # accurate seek: the first frame output is frame `start` (constant rate)
    args += ['-ss', f'{float((start - Fraction(1, 2)) / info.fps):.6f}']
  matrix = info.color.sws_matrix()
  in_range = 'pc' if info.color.range == 'pc' else 'tv'
  args += ['-i', info.path, '-map', '0:v:0', '-vf',
           f'scale=in_color_matrix={matrix}:in_range={in_range}', '-f', 'rawvideo', '-pix_fmt',
           'rgb48le' if deep else 'rgb24', '-fps_mode', 'passthrough']
  if count is not None:
    args += ['-frames:v', str(count)]
  return args + ['-']


def iter_raw_frames(info: VideoInfo, start: int = 0, count: Optional[int] = None,
                    deep: Optional[bool] = None) -> Iterator[np.ndarray]:
  """Streams frames `start, start+1, ...` (at most `count`) as `[H,W,3]` RGB, one decoded frame
  in memory at a time: uint16 if `deep` (default: for sources deeper than 8 bits), else uint8.

  Raises VideoReadError if ffmpeg fails, a frame is partial, or (reading to the end from
  frame 0) the number of decoded frames is not `info.num_frames`.
  """
  deep = info.bit_depth > 8 if deep is None else deep
  dtype = np.dtype('<u2') if deep else np.dtype(np.uint8)
  frame_bytes = info.height * info.width * 3 * dtype.itemsize
  proc = subprocess.Popen([ffmpeg_exe()] + _decode_args(info, start, count, deep),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  decoded = 0
  try:
    while True:
      data = proc.stdout.read(frame_bytes)
      if not data:
        break
      if len(data) != frame_bytes:
        raise VideoReadError(f'{info.path}: frame {start + decoded} is incomplete or changes '
                             'size; re-encode the video')
      decoded += 1
      yield np.frombuffer(data, dtype).reshape(info.height, info.width, 3)
    proc.wait()
    if proc.returncode != 0:
      message = proc.stderr.read().decode(errors='replace').strip().splitlines()
      raise VideoReadError(f'{info.path}: decoding failed near frame {start + decoded} '
                           f'({message[-1] if message else "?"}); re-encode the video')
    if start == 0 and count is None and decoded != info.num_frames:
      raise VideoReadError(f'{info.path}: decoded {decoded} frames but it holds '
                           f'{info.num_frames}; the video is damaged: re-encode it')
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def count_decoded_frames(path: str) -> int:
  """Decodes the whole first video stream inside ffmpeg and returns the number of frames."""
  result = run_ffmpeg(['-v', 'error', '-stats', '-i', path, '-map', '0:v:0', '-fps_mode',
                       'passthrough', '-f', 'null', '-'])
  counts = re.findall(r'frame= *(\d+)', result.stderr)
  if result.returncode != 0 or not counts:
    raise VideoReadError(f'{path}: cannot decode it ({result.stderr.strip()[-200:]}); '
                         're-encode it')
  return int(counts[-1])


def read_video_frames(path: str, info: Optional[VideoInfo] = None) -> Iterator[np.ndarray]:
  """Streams every frame of `path` as `[H,W,3]` float32 in [0,1] (see `iter_raw_frames`)."""
  info = info or probe_video(path)
  scale = np.float32(65535.0 if info.bit_depth > 8 else 255.0)
  for frame in iter_raw_frames(info):
    yield frame.astype(np.float32) / scale
