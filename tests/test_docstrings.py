"""Every public name of ``textgan`` and ``textgan.nn`` has a docstring with an example, and the examples run.

Examples assume ``import torch, textgan`` (the API pages say so); each runs with a fixed torch seed.
"""
import doctest
import inspect

import pytest
import torch

import textgan
import textgan.nn

# names that cannot carry a docstring of their own
NOT_DOCUMENTABLE = {"__version__"}


def _public(module):
    return [(module.__name__, name) for name in module.__all__ if name not in NOT_DOCUMENTABLE]


PUBLIC = _public(textgan) + _public(textgan.nn)


def _docstring(module_name, name):
    module = textgan if module_name == "textgan" else textgan.nn
    return inspect.getdoc(getattr(module, name)) or ""


def _examples(docstring):
    return doctest.DocTestParser().get_examples(docstring)


def test_the_list_covers_the_public_api():
    assert {"load_pretrained", "dfgan", "TextToImagePipeline"} <= {n for _, n in PUBLIC}
    assert {"Affine", "DFBlock", "WordAttention"} <= {n for _, n in PUBLIC}


@pytest.mark.parametrize("module_name, name", PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_has_a_runnable_example(module_name, name):
    doc = _docstring(module_name, name)
    assert doc, f"{module_name}.{name} has no docstring"
    assert _examples(doc), f"{module_name}.{name}'s docstring has no '>>>' example"
    if name == "AffineFusion":  # the runtime object is Affine: its docstring runs in Affine's test
        return
    torch.manual_seed(0)
    test = doctest.DocTestParser().get_doctest(doc, {"torch": torch, "textgan": textgan}, f"{module_name}.{name}",
                                               None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    runner.run(test, out=failures.append)
    assert not failures, "".join(failures)
    assert runner.summarize(verbose=False).attempted == len(_examples(doc))
