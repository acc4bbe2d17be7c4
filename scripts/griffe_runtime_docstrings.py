"""Griffe extension for the docs build: docstrings that a module sets at import time.

``textgan.factories`` builds its family factories (``textgan.dfgan`` ...) with a helper that writes their
``__doc__``; static analysis sees only an assignment, so this copies the runtime docstring onto it.
"""
import importlib
import inspect

import griffe

MODULES = ("textgan.factories",)


class RuntimeDocstrings(griffe.Extension):
    def on_attribute_instance(self, *, node, attr, agent, **kwargs) -> None:
        if attr.docstring is not None or attr.parent is None or attr.parent.path not in MODULES:
            return
        obj = getattr(importlib.import_module(attr.parent.path), attr.name, None)
        if callable(obj) and obj.__doc__:
            attr.docstring = griffe.Docstring(inspect.cleandoc(obj.__doc__), parent=attr)
            attr.labels.add("function")
