"""Modules loaded when first used, for the app's entry point (function_app.py): a new instance
indexes the app without loading the whole of `shared/` (cold start is paid on every scale-out),
and an instance that only converts never loads the web code.

Python's own LazyLoader: the module is created at once and run on its first attribute access,
guarded against threads racing to it (Python 3.12.3 and later, gh-114763).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module `name`, run when one of its attributes is first read (at once if loaded already)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
