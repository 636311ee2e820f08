"""Model weights: our model-directory format (load/save), FILM checkpoint and SavedModel
conversion, SavedModel export, and where the bundled model lives.

May import `film.net`, `film.media` and `film.cli`; never inference, batch, datasets,
training or eval.
"""
