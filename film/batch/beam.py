"""The Beam side of `film.batch.jobs`: the DoFn that interpolates items on a worker.

Kept apart so that `film.batch.jobs` (item discovery, resume checks, the manifest) imports without
Apache Beam; `film.batch.runner.run_batch` builds the pipeline with it.
"""
import apache_beam as beam
from apache_beam.metrics.metric import Metrics

from film.batch import jobs as batch
from film.batch import models


class InterpolateItemFn(beam.DoFn):
  """(index, Item) -> its manifest row; the model is loaded once per worker process in `setup`.

  Each row is also written to `job.run_dir/<index>.json` (the driver's progress and manifest).
  """

  def __init__(self, job: batch.BatchJob, overwrite: bool):
    self._job = job
    self._overwrite = overwrite
    self._counters = {name: Metrics.counter(batch.METRICS_NAMESPACE, name) for name in (
        'items_done', 'items_failed', 'frames_written', 'model_loads')}
    self._millis = Metrics.distribution(batch.METRICS_NAMESPACE, 'item_milliseconds')
    self._interpolator = self._lock = None
    self._loaded = False

  def setup(self) -> None:
    self._interpolator, self._lock = models.shared_interpolator(self._job)
    self._loaded = models.report_load(self._job)

  def process(self, element):  # (int, batch.Item) -> manifest row dict
    if self._loaded:  # Counted here: counters need a bundle.
      self._counters['model_loads'].inc()
      self._loaded = False
    index, item = element
    with self._lock:
      row = batch.process_item(self._job, item, self._interpolator, self._overwrite)
    self._counters['items_done' if row['status'] == batch.DONE else 'items_failed'].inc()
    self._counters['frames_written'].inc(row['frames'])
    self._millis.update(int(row['seconds'] * 1000))
    batch.write_json(batch.storage.join(self._job.run_dir, f'{index:08d}.json'), row)
    yield row
