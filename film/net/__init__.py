"""The FILM network, pure TensorFlow: layers, pyramids, warping, the model and its config.

Owns everything the forward pass computes (`FilmNet`, `FilmConfig`, the feature extractor,
the residual flow estimator, fusion, padding, backward warping) and the compute-precision
choice (`precision`). May import TensorFlow and numpy only: nothing else of `film`, so the
model can be read, tested and reused on its own.
"""
