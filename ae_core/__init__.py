"""Autoencoder Explorer's engine: datasets, autoencoder variants, training,
the run store and background jobs, analyses and figures.

`from ae_core import Autoencoder` gives the scikit-learn style estimator. The
package imports torch only when a model is needed, so pages that just list
runs start fast.
"""

from ae_core.errors import InputError

__all__ = ["Autoencoder", "InputError"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "Autoencoder":
        from ae_core.estimator import Autoencoder

        return Autoencoder
    raise AttributeError(f"module 'ae_core' has no attribute {name!r}")
