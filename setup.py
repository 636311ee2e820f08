"""Installs `film-interpolation`: one import package, `film` (model, inference, training, eval).

The repository keeps `training/`, `eval/`, `datasets/` and `gin_configs/` beside `film/`; they are
installed as the subpackages `film.training`, `film.eval`, `film.datasets` and `film.gin_configs`
(`package_dir` below), so the only top-level name in site-packages is `film`.

TensorFlow comes from an extra, JAX-style: `[cpu]` (the `tensorflow-cpu` wheel, no CUDA) or
`[and-cuda]` (`tensorflow[and-cuda]`, the CUDA build); without either, importing `film` says
which one to install. Ranges were tested at the versions in `constraints.txt` (CI installs
with it); see notes/packaging.md.
"""
from setuptools import find_namespace_packages, setup

# Repository folder -> installed subpackage of `film`.
SUBPACKAGES = {
    'film.training': 'training',
    'film.eval': 'eval',
    'film.datasets': 'datasets',
    'film.gin_configs': 'gin_configs',
}

TENSORFLOW = '>=2.21,<2.22'
BEAM = 'apache-beam[tfrecord]>=2.77,<3'

setup(
    name='film-interpolation',
    version='0.2.0',
    description='FILM-style frame interpolation in TensorFlow 2.21 / Keras 3: photos and videos '
                'to slow motion, training, evaluation and SavedModel export.',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10,<3.14',
    classifiers=[
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Topic :: Multimedia :: Video',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    # Namespace discovery also picks up the data folders film/samples and film/default_model.
    packages=find_namespace_packages(include=['film', 'film.*']) + list(SUBPACKAGES),
    package_dir=SUBPACKAGES,
    package_data={
        'film.samples': ['*.jpg', '*.md'],
        'film.default_model': ['*.json', '*.npz'],
        'film.gin_configs': ['*.gin'],
    },
    include_package_data=True,
    # Inference core. TensorFlow itself comes from the `cpu` or `and-cuda` extra.
    install_requires=[
        'gin-config>=0.5.0,<0.6',
        'absl-py>=2.1,<3',
        'numpy>=1.26,<3',
        'imageio-ffmpeg>=0.5,<1',
        'pillow>=10,<13',
        'tqdm>=4.66,<5',
        'opencv-python-headless>=4.9,<6',
        'scipy>=1.11,<2',
    ],
    extras_require={
        'cpu': [f'tensorflow-cpu{TENSORFLOW}'],
        # --model film:style etc. downloaded from the Hugging Face Hub (film.weights.published).
        'hub': ['huggingface_hub>=0.24,<2'],
        'and-cuda': [f'tensorflow[and-cuda]{TENSORFLOW}'],
        # Beam record jobs (film-create-tfrecords, film-fetch-bbb --make_tfrecords).
        'data': [BEAM, 'google-crc32c>=1.5,<2'],
        # film-interpolate-batch: many folders/videos in one Beam job (local or Dataflow/Flink/Spark).
        'batch': [BEAM],
        # Training from video: the record jobs plus the trainer (TensorFlow only).
        'train': [BEAM, 'google-crc32c>=1.5,<2'],
        # film-eval: SSIM/PSNR/LPIPS need nothing beyond the core; scikit-image is the
        # independent SSIM reference its metrics are checked against.
        'eval': ['scikit-image>=0.22,<1'],
        'tensorboard': ['tensorboard>=2.20,<3'],
        'test': ['pytest>=8,<10', 'mediapy>=1.2,<2', 'scikit-image>=0.22,<1', BEAM, 'google-crc32c>=1.5,<2'],
    },
    entry_points={
        'console_scripts': [
            'film-convert=film.weights.convert_cli:run',
            'film-interpolate=film.inference.interpolate_cli:run',
            'film-interpolate-batch=film.batch.batch_cli:run',
            'film-export=film.weights.export_cli:run',
            'film-models=film.weights.models_cli:run',
            'film-eval=film.eval.eval_cli:run',
            'film-create-tfrecords=film.datasets.create_tfrecords_cli:run',
            'film-fetch-bbb=film.datasets.fetch_big_buck_bunny:run',
            'film-fetch-weights=film.training.pretrained:run',
            'film-train=film.training.train_cli:run',
            'film-export-checkpoint=film.training.train_cli:run_export',
        ],
    },
)
