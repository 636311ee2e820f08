"""Training (`film.training`): gin-bound run configs, tf.data input pipelines over the record
format of `film.datasets.schema`, FILM's losses, the distributed train step with checkpoints and
resume, in-training evaluation, summaries, checkpoint averaging and export, and `film-train`.

May import `film.datasets`, `film.inference` (classical DIS flow for the teacher and the flow
prior), `film.weights`, `film.net`, `film.media` and `film.cli`; never batch or eval.
"""
