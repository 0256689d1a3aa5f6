"""GAN sample-quality metrics: FID, KID and Inception Score, and their statistics.

This module is only the maths: it works on feature vectors or class
probabilities that a feature extractor (see `kgan_nas.features`) has already
produced, and it depends on numpy and scipy alone, so it imports without
TensorFlow or JAX. It exists because `tensorflow-gan` no longer imports on
TensorFlow >= 2.16 (it subclasses the removed `tf.estimator`).

Protocol choices, in brief:

- Everything is computed in float64. FID subtracts traces of 2048 x 2048
  covariance matrices that are large compared with their difference, and
  KID averages about a million kernel values whose mean difference is small,
  so float32 round-off would be visible in the result. (KID may opt into
  float32 dot products for speed; see `kernel_inception_distance`.)
- The FID matrix square root uses a Cholesky factor and symmetric
  eigen-decompositions only, so every intermediate is real and symmetric:
  no complex parts to discard and no failures on singular covariances
  (which `scipy.linalg.sqrtm` of the non-symmetric product `sigma1 @ sigma2`
  can produce).
- KID is the unbiased MMD^2 estimate with the cubic polynomial kernel,
  averaged over random subsets, with the defaults of the KID paper and
  torch-fidelity (100 subsets of 1000 samples).
- Uncertainty: FID gets a bootstrap confidence interval over the generated
  samples, KID a standard error over its subsets.
- The Inception Score splits the samples into contiguous groups (10 by
  default) and reports the mean and standard deviation over the groups.

FID and IS are biased estimators whose bias depends on the number of
samples, so scores are only comparable at the same sample count; KID is
unbiased and preferable for ranking candidates evaluated on few samples.

Modules, one job each:

- `checks`: input validation shared by the metrics;
- `frechet`: `frechet_distance` (eigenvalue helpers) and `fid`;
- `statistics`: `FeatureStatistics` (streaming mean and covariance) and
  `feature_statistics`;
- `kid`: `kernel_inception_distance` (all subsets at once, with a standard
  error on request);
- `bootstrap`: `fid_confidence_interval`, a bootstrap interval for FID;
- `memorisation`: `memorisation_score`, generated vs held-out distances to
  the nearest training image;
- `precision_recall`: `precision_recall`, the k-nearest-neighbour precision
  (fidelity) and recall (coverage) of generated samples;
- `neighbours`: blocked nearest-neighbour distances both of those use;
- `inception_scoring`: `inception_score`.

Everything public is re-exported here, so `kgan_nas.metrics.fid` and the other
names keep working.
"""

from kgan_nas.metrics.bootstrap import fid_confidence_interval
from kgan_nas.metrics.frechet import fid
from kgan_nas.metrics.frechet import frechet_distance
from kgan_nas.metrics.inception_scoring import inception_score
from kgan_nas.metrics.kid import kernel_inception_distance
from kgan_nas.metrics.memorisation import memorisation_score
from kgan_nas.metrics.precision_recall import precision_recall
from kgan_nas.metrics.statistics import FeatureStatistics
from kgan_nas.metrics.statistics import feature_statistics

__all__ = [
    "FeatureStatistics",
    "feature_statistics",
    "fid",
    "fid_confidence_interval",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "memorisation_score",
    "precision_recall",
]
