"""`get_extractor`: a feature extractor from a short name ("domain", "inception")."""

from kgan_nas.features.base import FeatureExtractor
from kgan_nas.features.domain import DomainExtractor
from kgan_nas.features.inception import InceptionExtractor

__all__ = ["get_extractor"]


def get_extractor(spec, *, images=None, labels=None, cache_dir=None):
    """Returns a feature extractor from a short spec.

    Args:
        spec: `"domain"` (a cached `DomainExtractor` fitted on `images`),
            `"inception"` (`InceptionExtractor()` with ImageNet weights), or
            a `FeatureExtractor` instance, returned unchanged.
        images: Real images; required for `"domain"`.
        labels: Optional labels for `"domain"`.
        cache_dir: Cache folder for `"domain"`; see
            `DomainExtractor.for_data`.

    Returns:
        A `FeatureExtractor`.

    Raises:
        ValueError: If `spec` is unknown, or `"domain"` comes without images.
        RuntimeError: For `"inception"` offline without cached weights.
    """
    if isinstance(spec, FeatureExtractor):
        return spec
    if spec == "domain":
        if images is None:
            raise ValueError(
                "get_extractor('domain') trains on the real data: pass `images=real_images`."
            )
        return DomainExtractor.for_data(images, labels, cache_dir=cache_dir)
    if spec == "inception":
        return InceptionExtractor()
    raise ValueError(
        f"Unknown feature extractor {spec!r}. Use 'domain', 'inception' or a "
        "FeatureExtractor instance."
    )
