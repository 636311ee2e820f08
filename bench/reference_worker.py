"""Worker for `bench/bench_reference_speed.py` that runs the *reference* FILM implementation.

Runs under another Python (TF 2.15 + tensorflow-addons, a google-research/frame-interpolation
checkout on `sys.path`); imports nothing of `film`. Protocol: one JSON command per stdin line,
one JSON reply per stdout line (everything else goes to stderr):

  {"cmd": "build", "config": {...}, "seed": 0, "saved_model": DIR}   creates the FILM model with
      random weights (Keras initialisers, seeded) and saves it as a SavedModel (`model.save`, the
      release layout's `saved_model/`) unless DIR exists; then loads it with the reference's own
      `eval.interpolator.Interpolator` (align 64), as its command line does.
  {"cmd": "forward", "inputs": NPZ, "output": NPY|null}   one pair at t=0.5: [H,W,3] float32.
  {"cmd": "slowmo", "inputs": NPZ, "times_to_interpolate": K}   the reference's recursive loop
      (`eval.util.interpolate_recursively_from_memory`), 2**K-1 new frames.
  {"cmd": "profile", "inputs": NPZ}   per-op-type seconds of one forward (bench/op_profile.py).
  {"cmd": "quit"}

Each reply carries "seconds" (wall time of the call, inputs already in memory).
"""
import json
import os
import sys
import time


def _reply(payload: dict) -> None:
  sys.__stdout__.write(json.dumps(payload) + '\n')
  sys.__stdout__.flush()


def main() -> None:
  sys.stdout = sys.stderr  # library prints and progress bars stay off the protocol channel
  # The checkout's `eval` and `models` packages; this script's folder (bench/) stays on the path
  # for op_profile, while the film repository root (with our own `eval`) must not be on it.
  sys.path.insert(0, os.environ['FILM_REFERENCE_DIR'])
  import numpy as np
  import tensorflow as tf
  interpolator = None
  pairs = {}  # inputs path -> (x0, x1), read once
  for line in sys.stdin:
    command = json.loads(line)
    cmd = command['cmd']
    if cmd == 'quit':
      break
    if cmd == 'build':
      from eval import interpolator as interpolator_lib
      from models.film_net import interpolator as film_net
      from models.film_net import options
      saved_model = command['saved_model']
      if not os.path.isdir(saved_model):
        tf.keras.utils.set_random_seed(command['seed'])
        config = options.Options(**command['config'])
        inputs = {'x0': tf.keras.Input((None, None, 3), name='x0'),
                  'x1': tf.keras.Input((None, None, 3), name='x1'),
                  'time': tf.keras.Input((1,), name='time')}
        model = film_net.create_model(inputs['x0'], inputs['x1'], inputs['time'], config)
        model.save(saved_model)
      interpolator = interpolator_lib.Interpolator(saved_model, align=64)
      _reply({'ok': True, 'tensorflow': tf.__version__})
      continue
    if command['inputs'] not in pairs:
      with np.load(command['inputs']) as frames:
        pairs[command['inputs']] = frames['x0'], frames['x1']
    x0, x1 = pairs[command['inputs']]
    start = time.perf_counter()
    if cmd == 'forward':
      image = interpolator(x0[None], x1[None], np.full((1,), 0.5, np.float32))[0]
      seconds = time.perf_counter() - start
      if command.get('output'):
        np.save(command['output'], image)
      _reply({'seconds': seconds})
    elif cmd == 'slowmo':
      from eval import util
      frames_out = list(util.interpolate_recursively_from_memory(
          [x0, x1], command['times_to_interpolate'], interpolator))
      seconds = time.perf_counter() - start
      _reply({'seconds': seconds, 'frames': len(frames_out)})
    elif cmd == 'profile':
      from op_profile import profile_op_types  # bench/op_profile.py, beside this script
      _reply({'op_seconds': profile_op_types(
          lambda: interpolator(x0[None], x1[None], np.full((1,), 0.5, np.float32)))})
    else:
      _reply({'error': f'unknown command {cmd}'})


if __name__ == '__main__':
  main()
