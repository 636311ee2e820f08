"""The one tiny network config the tests share (fast to build, trace and train on a CPU)."""
import dataclasses

from film.net.config import FilmConfig

# Three pyramid levels, two of them with their own flow estimator, 2 base filters.
TINY = FilmConfig(pyramid_levels=3, fusion_pyramid_levels=3, specialized_levels=2, sub_levels=2,
                  flow_convs=(1, 1, 1), flow_filters=(4, 4, 4), filters=2)
# The same with 4 base filters: the training tests (enough capacity to fit a batch).
TINY_TRAINABLE = dataclasses.replace(TINY, filters=4)
