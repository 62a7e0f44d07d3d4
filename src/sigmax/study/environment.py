"""The machine and library versions a study ran with (``CompareResult.environment``)."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from .placement import cuda_device

__all__ = ["environment"]


def environment(threads: int, placement: dict[str, Any] | None = None) -> dict[str, Any]:
    import os
    import sys

    import scipy
    import sklearn

    from .. import __version__

    backend = (placement or {}).get("backend", "numpy")
    extra: dict[str, Any] = {}
    if backend == "torch":
        import torch

        extra["torch"] = torch.__version__
        dev = cuda_device(placement or {})
        if dev is not None:
            extra["gpu"] = torch.cuda.get_device_name(dev)
    elif backend == "dask":
        import dask
        import distributed

        extra.update({"dask": dask.__version__, "distributed": distributed.__version__})
    return {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "sigmax": __version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
        "blas": [{"library": i.get("internal_api"), "version": i.get("version"),
                  "threads": min(i.get("num_threads", 1), threads)} for i in threadpool_info()
                 if i.get("user_api") == "blas"],
        **extra,
    }
