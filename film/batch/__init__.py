"""Batch interpolation on Apache Beam: item discovery, per-item work with resume, the Beam
pipeline, its driver, storage staging for remote filesystems, and `film-interpolate-batch`.

May import `film.inference`, `film.datasets` (Beam helpers, frame reading) and every layer
below them; never training or eval.
"""
