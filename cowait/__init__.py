"""Cowait: run a project as parallel tasks and notebooks in containers, locally or on Kubernetes.

The public API is imported lazily, so ``import cowait`` stays cheap in every task container::

    import cowait

    @cowait.task
    async def square(x: int) -> int:
        return x * x

    class Sum(cowait.Task):
        async def run(self, n: int = 4) -> int:
            return sum(await cowait.join([square(x=i) for i in range(n)]))
"""

_API = {
    "Task": "cowait.runtime.task",
    "task": "cowait.runtime.task",
    "input": "cowait.runtime.ops",
    "exit": "cowait.runtime.ops",
    "spawn": "cowait.runtime.ops",
    "join": "cowait.runtime.ops",
    "wait": "cowait.runtime.ops",
    "sleep": "cowait.runtime.ops",
    "TaskError": "cowait.errors",
    "RemoteTask": "cowait.runtime.remote",
    "__version__": "cowait.version",
}

__all__ = [name for name in _API if name != "__version__"]


def __getattr__(name):  # noqa: ANN001, ANN202 (no typing import: it costs start-up time)
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'cowait' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():  # noqa: ANN202
    return sorted([*globals(), *_API])
