"""Feature extractors that turn images into the inputs of FID, KID and IS.

An extractor maps float32 NHWC images in [-1, 1] to two arrays:

- `features`: an `(N, d)` float64 embedding (for FID and KID);
- `probabilities`: an `(N, k)` float64 softmax over classes (for IS).

Two extractors exist, and every metric is named after the one that produced
it (`extractor.metric_suffix`), so `fid_domain` is never confused with
`fid_inception`:

- `DomainExtractor` ("domain"): a small convnet classifier trained on the real
  data itself. It works offline and on tiny images (8x8 digits, 28x28
  MNIST), where an ImageNet network sees mostly upsampling blur. Its scores
  rank candidates within one run but mean nothing outside it.
- `InceptionExtractor` ("inception"): Keras' ImageNet InceptionV3 pool and
  softmax outputs. Closer to the usual protocol, yet still not comparable
  with published FID (see its docstring).

The maths on these arrays lives in `kgan_nas.metrics`; this module only
produces them. Everything here is plain Keras 3 and works under any
backend; this module never imports TensorFlow.

Modules, one job each:

- `base`: the `FeatureExtractor` base class and the shared image checks;
- `domain`: `DomainExtractor` (constructor, `fit`, `save`, `load`, `for_data`);
- `domain_training`: the domain classifier's network and training helpers;
- `domain_cache`: the cache behind `for_data` (`data_fingerprint`,
  `default_cache_dir`, keys, reading and publishing entries);
- `pseudo_labels`: k-means pseudo-labels for unlabeled data;
- `inception`: `InceptionExtractor` and its offline weight resolution;
- `registry`: `get_extractor`.

Everything public is re-exported here, so `kgan_nas.features.DomainExtractor`
and the other names keep working.
"""

from kgan_nas.features.base import FeatureExtractor

# Private helpers that other modules and the tests reach as `kgan_nas.features._name`.
# To monkeypatch a name, patch the submodule that defines it, not this package.
from kgan_nas.features.base import _validate_images  # noqa: F401
from kgan_nas.features.domain import DomainExtractor
from kgan_nas.features.domain_cache import data_fingerprint
from kgan_nas.features.domain_cache import default_cache_dir
from kgan_nas.features.domain_training import _build_domain_classifier  # noqa: F401
from kgan_nas.features.inception import InceptionExtractor
from kgan_nas.features.inception import _resolve_inception_weights  # noqa: F401
from kgan_nas.features.pseudo_labels import kmeans_pseudo_labels
from kgan_nas.features.registry import get_extractor

__all__ = [
    "FeatureExtractor",
    "DomainExtractor",
    "InceptionExtractor",
    "get_extractor",
    "data_fingerprint",
    "default_cache_dir",
    "kmeans_pseudo_labels",
]
