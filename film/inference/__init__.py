"""Running a model: `Interpolator` (loading, precision, graph functions, recursive and
direct time schedules), tiling and memory budgeting, classical (DIS) flow, and the
`film-interpolate` pipeline for pairs, folders and videos.

May import `film.weights`, `film.net`, `film.media` and `film.cli`; never batch,
datasets, training or eval.
"""
