"""Media in and out: images, video (probe, decode, encode, audio), scene cuts, image metrics,
and atomic publishing of files and folders.

No TensorFlow model code here. May import `film.cli` (for `UserError`) and nothing else of
`film`; every higher layer reads and writes media through these modules.
"""
