"""Tests for film/media/video_io.py on clips the tests make with ffmpeg: rational and variable frame
rates, exact frame counts, truncated files, rotation, 10-bit, colour tags, audio tracks."""
import re
import subprocess
from fractions import Fraction

import imageio_ffmpeg
import numpy as np
import pytest

from film.media import video_encode, video_io

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args):
  subprocess.run([FFMPEG, '-v', 'error', '-y', *args], check=True, capture_output=True)


def make_clip(path, rate='24000/1001', seconds=2, size='64x48', audio_tracks=0, extra=()):
  args = ['-f', 'lavfi', '-i', f'testsrc2=size={size}:rate={rate}:duration={seconds}']
  for k in range(audio_tracks):
    args += ['-f', 'lavfi', '-i', f'sine=frequency={440 * (k + 1)}:duration={seconds}']
  args += ['-map', '0:v'] + [x for k in range(audio_tracks) for x in ('-map', f'{k + 1}:a')]
  args += ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', *extra]
  if audio_tracks:
    args += ['-c:a', 'aac']
  ffmpeg(*args, str(path))
  return str(path)


def stream_lines(path):
  err = subprocess.run([FFMPEG, '-hide_banner', '-i', str(path)], capture_output=True,
                       text=True).stderr
  return [line for line in err.splitlines() if 'Stream #0:' in line]


def reference_frames(path, pix_fmt='rgb24'):
  """Every frame, decoded by imageio-ffmpeg's own reader (independent of video_io)."""
  reader = imageio_ffmpeg.read_frames(str(path), pix_fmt=pix_fmt,
                                      bits_per_pixel=48 if pix_fmt == 'rgb48le' else 24,
                                      output_params=['-fps_mode', 'passthrough'])
  meta = next(reader)
  width, height = meta['size']
  dtype = np.uint16 if pix_fmt == 'rgb48le' else np.uint8
  return [np.frombuffer(f, dtype).reshape(height, width, 3) for f in reader]


@pytest.mark.parametrize('rate, container', [('24000/1001', 'mp4'), ('30000/1001', 'mkv'),
                                             ('25', 'mp4'), ('60000/1001', 'mov')])
def test_rational_frame_rates_and_exact_counts(tmp_path, rate, container):
  # Bug 2: ffmpeg prints 23.98 for 24000/1001; the rate must come out exact. mkv has 1 ms ticks
  # (timestamps rounded), mp4/mov exact tick counts.
  path = make_clip(tmp_path / f'c.{container}', rate=rate)
  info = video_io.probe_video(path)
  assert info.fps == Fraction(rate)
  assert info.num_frames == len(reference_frames(path))
  assert info.video_seconds == info.num_frames / Fraction(rate)


def test_writer_keeps_a_rational_rate_and_every_frame(tmp_path):
  frames = [np.full((48, 64, 3), i / 10, np.float32) for i in range(10)]
  out = str(tmp_path / 'o.mp4')
  with video_encode.StreamingVideoWriter(out, 48, 64, Fraction(48000, 1001)) as writer:
    for frame in frames:
      writer.add(frame)
  info = video_io.probe_video(out)
  assert info.fps == Fraction(48000, 1001) and info.num_frames == 10
  assert 'yuv420p(tv, bt709, progressive)' in stream_lines(out)[0]  # BT.709 for images
  decoded = reference_frames(out)
  np.testing.assert_allclose([f.mean() / 255 for f in decoded], [i / 10 for i in range(10)],
                             atol=0.02)


def test_variable_frame_rate_is_refused_with_a_clear_message(tmp_path):
  path = str(tmp_path / 'vfr.mp4')
  ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=24:duration=2', '-vf',
         "setpts='if(lt(N,24),N/24,1+(N-24)/12)/TB'", '-fps_mode', 'vfr', '-c:v', 'libx264',
         '-pix_fmt', 'yuv420p', path)
  with pytest.raises(video_io.VideoReadError, match=r'variable frame rate .*-fps_mode cfr'):
    video_io.probe_video(path)


def test_truncated_file_is_reported_with_the_numbers(tmp_path):
  # Bug 7: a faststart mp4 cut mid-file (its header still lists every frame).
  path = make_clip(tmp_path / 'full.mp4', rate='24', seconds=3, size='96x64',
                   extra=('-movflags', '+faststart'))
  data = open(path, 'rb').read()
  cut = tmp_path / 'cut.mp4'
  cut.write_bytes(data[:len(data) // 2])
  with pytest.raises(video_io.VideoReadError) as error:
    video_io.probe_video(str(cut))
  match = re.search(r'truncated: only (\d+) frames of about (\d+)', str(error.value))
  assert match, error.value
  assert 0 < int(match.group(1)) < 72 and int(match.group(2)) == 72


def test_rotated_phone_video_is_decoded_upright(tmp_path):
  plain = make_clip(tmp_path / 'plain.mp4', rate='24', seconds=1)
  rotated = str(tmp_path / 'rotated.mp4')
  ffmpeg('-display_rotation', '90', '-i', plain, '-c', 'copy', rotated)
  info = video_io.probe_video(rotated)
  assert (info.height, info.width, info.rotation) == (64, 48, 90)
  frames = list(video_io.read_video_frames(rotated, info))
  assert len(frames) == info.num_frames and frames[0].shape == (64, 48, 3)
  upright = reference_frames(plain)[0].astype(np.float32) / 255
  # Display rotation 90 = counter-clockwise; chroma is resampled in another order: tolerance.
  assert np.abs(frames[0] - np.rot90(upright, 1)).mean() < 0.02


def test_10bit_video_keeps_its_precision(tmp_path):
  # A 16-bit ramp with 16384 levels, encoded losslessly as 10-bit 4:4:4 BT.2020.
  yy, xx = np.mgrid[0:64, 0:256]
  ramp = ((yy * 256 + xx) * 4).astype('<u2')
  source = np.repeat(ramp[..., None], 3, axis=-1)
  path = str(tmp_path / 'ten.mkv')
  subprocess.run([FFMPEG, '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb48le', '-s',
                  '256x64', '-r', '24', '-i', '-', '-vf', 'scale=out_color_matrix=bt2020,'
                  'setparams=colorspace=bt2020nc:color_primaries=bt2020:color_trc=smpte2084',
                  '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p10le', '-colorspace',
                  'bt2020nc', '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', path],
                 input=source.tobytes() * 3, check=True, capture_output=True)
  info = video_io.probe_video(path)
  assert info.bit_depth == 10 and info.num_frames == 3
  assert (info.color.matrix, info.color.primaries, info.color.transfer) == (
      'bt2020nc', 'bt2020', 'smpte2084')
  frame = next(video_io.read_video_frames(path, info))
  # 10-bit limited range has 876 levels, 8 bits at most 256.
  assert len(np.unique(np.round(frame[..., 1] * 65535))) > 800
  np.testing.assert_allclose(frame * 65535, source, atol=3 * 65535 / 1023)  # 10-bit steps


def test_mux_keeps_every_audio_track(tmp_path):
  source = make_clip(tmp_path / 'two_tracks.mp4', rate='24', seconds=1, audio_tracks=2)
  assert video_io.probe_video(source).audio_tracks == 2
  video = make_clip(tmp_path / 'video_only.mp4', rate='24', seconds=1)
  out = str(tmp_path / 'muxed.mp4')
  assert video_encode.mux_audio(video, source, out) == 2
  assert sum('Audio:' in line for line in stream_lines(out)) == 2


@pytest.mark.parametrize('text, expected', [
    ('24000/1001', Fraction(24000, 1001)), ('23.976', Fraction(24000, 1001)),
    ('29.97', Fraction(30000, 1001)), ('30', Fraction(30)), ('12.5', Fraction(25, 2)),
    (Fraction(48000, 1001), Fraction(48000, 1001)), (60, Fraction(60))])
def test_parse_rate(text, expected):
  assert video_io.parse_rate(text) == expected


@pytest.mark.parametrize('text', ['abc', '0', '-24', '1/0'])
def test_parse_rate_rejects(text):
  with pytest.raises(ValueError):
    video_io.parse_rate(text)


def test_video_roundtrip_streaming(tmp_path):
  path = str(tmp_path / 'v.mp4')
  frames = [np.full((32, 48, 3), i / 10, np.float32) for i in range(6)]
  with video_encode.StreamingVideoWriter(path, 32, 48, fps=12) as writer:
    for frame in frames:
      writer.add(frame)
  info = video_io.probe_video(path)
  assert (info.height, info.width, info.num_frames, info.fps, info.has_audio) == (
      32, 48, 6, 12.0, False)
  decoded = list(video_io.read_video_frames(path))
  assert len(decoded) == 6
  np.testing.assert_allclose(decoded[3], frames[3], atol=3 / 255)
  gif = str(tmp_path / 'v.gif')
  with video_encode.StreamingVideoWriter(gif, 32, 48, fps=10) as writer:
    for frame in frames:
      writer.add(frame)
  assert video_io.probe_video(gif).num_frames == 6


def test_mux_audio(tmp_path):
  src = str(tmp_path / 'src.mp4')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-f', 'lavfi', '-i',
                  'testsrc=size=48x32:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440',
                  '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-c:a', 'aac', src],
                 check=True)
  assert video_io.probe_video(src).has_audio
  silent = str(tmp_path / 'silent.mp4')
  with video_encode.StreamingVideoWriter(silent, 32, 48, fps=10) as writer:
    for frame in video_io.read_video_frames(src):
      writer.add(frame)
  out = str(tmp_path / 'out.mp4')
  video_encode.mux_audio(silent, src, out)
  info = video_io.probe_video(out)
  assert info.has_audio and info.num_frames == 10


def test_probe_video_errors(tmp_path):
  (tmp_path / 'empty.mp4').write_bytes(b'')
  with pytest.raises(video_io.VideoReadError, match='empty'):
    video_io.probe_video(str(tmp_path / 'empty.mp4'))
  (tmp_path / 'junk.mp4').write_bytes(b'garbage' * 100)
  with pytest.raises(video_io.VideoReadError, match='not a readable video'):
    video_io.probe_video(str(tmp_path / 'junk.mp4'))


def test_writer_on_a_full_disk_raises_enospc_naming_the_file(tmp_path):
  # /dev/full fails every write with ENOSPC, as a full disk does: an OSError the CLIs report in
  # one line (film.cli), not a RuntimeError traceback.
  import errno
  path = tmp_path / 'out.mp4'
  path.symlink_to('/dev/full')
  with pytest.raises(OSError) as error:
    with video_encode.StreamingVideoWriter(str(path), 16, 16, 24) as writer:
      for _ in range(4):
        writer.add(np.zeros((16, 16, 3), np.float32))
  assert error.value.errno == errno.ENOSPC and error.value.filename == str(path)


def test_shown_packets_leave_out_discarded_ones():
  framecrc = ('#tb 0: 1/1000000\n'
              '0,          0,          0,    34000,    47183, 0xdda45e91\n'
              '0,      67000,      67000,    33000,      740, 0x06366449, F=0x0\n'
              '0,      33000,      33000,    33000,      740, 0x06366449, F=0x0\n'
              '0,     100000,     100000,    33000,      852, 0xff56afb1, F=0x4\n'
              '0,     133000,     133000,    33000,      852, 0xff56afb1, F=0x5\n')
  assert video_io.shown_packet_pts(framecrc) == [0, 33000, 67000]


def test_stream_copy_cut_counts_only_the_frames_it_shows(tmp_path):
  """`ffmpeg -ss -c copy` keeps the packets before the cut, flagged discard: not frames."""
  source = make_clip(tmp_path / 'a.mp4', rate='30', seconds=1)
  cut = str(tmp_path / 'cut.mp4')
  ffmpeg('-ss', '0.1', '-i', source, '-c', 'copy', cut)
  framecrc = subprocess.run([FFMPEG, '-v', 'error', '-i', cut, '-map', '0:v:0', '-c', 'copy',
                             '-f', 'framecrc', '-'], capture_output=True, text=True).stdout
  assert re.search(r'F=0x[4-7]', framecrc)  # The premise: the cut holds discarded packets.
  expected = reference_frames(cut)
  info = video_io.probe_video(cut)
  assert info.num_frames == len(expected)
  frames = list(video_io.iter_raw_frames(info))  # Raised "damaged" when the counts differed.
  assert len(frames) == len(expected)
  # The same last picture (up to the YUV->RGB conversion's rounding).
  assert np.abs(frames[-1].astype(int) - expected[-1].astype(int)).mean() < 2
