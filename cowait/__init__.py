"""Cowait: run a project as parallel tasks and notebooks in containers, locally or on Kubernetes.

The public API is imported lazily, so ``import cowait`` stays cheap in every task container.
"""

__all__ = ["__version__"]


def __getattr__(name: str):  # noqa: ANN202 (no typing import: it costs start-up time)
    if name == "__version__":
        from cowait.version import __version__

        return __version__
    raise AttributeError(f"module 'cowait' has no attribute '{name}'")
