"""Evaluation (`film.eval`): benchmark readers (Middlebury, UCF101, Vimeo-90K, Xiph, triplet
folders, TFRecords), metrics (PSNR, SSIM, LPIPS), classical baselines, reports, learning curves
of training runs, and `film-eval`.

The top layer: may import every other layer of `film` (training for learning curves); nothing
imports it.
"""
