"""Installs the `film` frame-interpolation package (model, inference, training, evaluation)."""
from setuptools import find_namespace_packages, setup

setup(
    name='film',
    version='0.1.0',
    description='FILM-style frame interpolation in TensorFlow 2.21 / Keras 3.',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.11,<3.12',
    # Namespace discovery also picks up the data folders film/samples and film/default_model.
    packages=find_namespace_packages(include=['film', 'film.*', 'training', 'training.*', 'eval',
                                              'eval.*', 'datasets', 'datasets.*']),
    package_data={'film.samples': ['*.jpg', '*.md'], 'film.default_model': ['*.json', '*.npz']},
    include_package_data=True,
    install_requires=[
        # CPU wheel by default: `tensorflow` would be the same code but may pull CUDA wheels.
        'tensorflow-cpu==2.21.0',
        'gin-config>=0.5.0',
        'absl-py>=2.1',
        'numpy>=1.26,<3',
        'mediapy>=1.2',
        'imageio-ffmpeg>=0.5',
        'pillow>=10',
        'tqdm>=4.66',
        'opencv-python-headless>=4.9',
        'scipy>=1.11',
        'apache-beam[tfrecord]==2.77.0',
        'google-crc32c>=1.5',
    ],
    extras_require={
        'test': ['pytest>=8', 'scikit-image>=0.22'],
        'tensorboard': ['tensorboard>=2.20'],
    },
    entry_points={
        'console_scripts': [
            'film-convert=film.convert_cli:run',
            'film-interpolate=eval.interpolator_cli:run',
            'film-export=film.export_cli:run',
            'film-eval=eval.eval_cli:run',
            'film-create-tfrecords=datasets.create_tfrecords_cli:run',
            'film-fetch-bbb=datasets.fetch_big_buck_bunny:run',
            'film-train=training.train_cli:run',
            'film-export-checkpoint=training.train_cli:run_export',
        ],
    },
)
