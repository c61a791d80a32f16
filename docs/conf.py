"""Sphinx configuration of the skmetabalance documentation.

Build (warnings are errors; the example gallery is executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Set ``SKMETABALANCE_DOCS_NO_GALLERY=1`` to skip running the examples (the
gallery pages are still written, without outputs and figures).
"""

from __future__ import annotations

import os
import sys
import tempfile
import zlib
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
ROOT = DOCS_DIR.parent
# Document the checkout the docs live in, installed or not; DOCS_DIR holds
# gallery_order.py.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS_DIR))

import skmetabalance  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "skmetabalance"
author = "The skmetabalance developers"
copyright = "The skmetabalance developers"
version = skmetabalance.__version__
release = skmetabalance.__version__

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # Serves the MathJax copy this package ships with the built pages (and
    # points mathjax_path to it), so that formulas render without a network.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# _templates/autosummary/{class,function}.rst replace autosummary's own
# templates: members, and the examples that use each object.
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.json",
]
root_doc = "index"
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc renders the sections; the class template lists the members itself.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True
# numpydoc links some types with :term: and :ref: roles, which warn when the
# target inventory cannot be fetched; link them as objects instead, which
# render as plain text when unresolved.
numpydoc_xref_aliases = {
    "bool": ":class:`python:bool`",
    "boolean": ":class:`python:bool`",
    "iterable": ":class:`~collections.abc.Iterable`",
    "sequence": ":class:`~collections.abc.Sequence`",
    "generator": ":class:`~collections.abc.Generator`",
    "array_like": ":obj:`array-like <numpy.typing.ArrayLike>`",
    "array-like": ":obj:`array-like <numpy.typing.ArrayLike>`",
    "scalar": ":obj:`scalar <numpy.generic>`",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "Bunch": "sklearn.utils.Bunch",
    "Tensor": "torch.Tensor",
    "torch.device": "torch.device",
    "torch.nn.Module": "torch.nn.Module",
    "RandomState": "numpy.random.RandomState",
    "sampler": "imblearn.base.BaseSampler",
}
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "instance",
    "n_samples",
    "n_features",
    "n_classes",
    "n_features_in_",
    "n_outputs",
    "callable",
    "sparse",
    "matrix",
    "object",
    "str",
}

# -- Cross-references to other projects ----------------------------------------
#
# Each project lists its online inventory first and an empty local inventory
# second. Online, the real inventory is used and references become links.
# Offline (no network in the build environment), fetching the first location
# fails, Sphinx falls back to the empty inventory and reports the failure as
# information, not as a warning, so that ``-W`` builds still pass; the
# references then render as plain text. A build that was once offline keeps
# its cached empty inventories for ``intersphinx_cache_limit`` days: remove
# ``docs/_build`` to fetch the real ones again.


def _empty_inventory():
    path = Path(tempfile.gettempdir()) / "skmetabalance-docs-empty-objects.inv"
    header = (
        b"# Sphinx inventory version 2\n"
        b"# Project: offline placeholder\n"
        b"# Version: 0\n"
        b"# The remainder of this file is compressed using zlib.\n"
    )
    content = header + zlib.compress(b"")
    if not path.is_file() or path.read_bytes() != content:
        path.write_bytes(content)
    return str(path)


_EMPTY_INV = _empty_inventory()
intersphinx_mapping = {
    name: (url, (None, _EMPTY_INV))
    for name, url in {
        "python": "https://docs.python.org/3",
        "numpy": "https://numpy.org/doc/stable",
        "scipy": "https://docs.scipy.org/doc/scipy",
        "pandas": "https://pandas.pydata.org/docs",
        "sklearn": "https://scikit-learn.org/stable",
        "imblearn": "https://imbalanced-learn.org/stable",
        "torch": "https://docs.pytorch.org/docs/stable",
        "matplotlib": "https://matplotlib.org/stable",
    }.items()
}
intersphinx_timeout = 10

# -- Example gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": str(not os.environ.get("SKMETABALANCE_DOCS_NO_GALLERY")),
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("skmetabalance",),
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 1,
}

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmetabalance {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"getting_started": [], "changelog": []}
html_show_sourcelink = False


# -- Hooks ---------------------------------------------------------------------


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's generated metadata-routing setters (set_fit_request, ...)
    # refer to parts of scikit-learn's own documentation by local labels.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _inherited_sklearn_reference(app, env, node, contnode):
    # Methods inherited from scikit-learn (score, get_params, ...) keep their
    # docstrings, which refer to scikit-learn's documentation by its own labels
    # and glossary terms. Online, intersphinx resolves them before this handler
    # runs; offline they are rendered as plain text instead of failing the
    # build. References anywhere else still warn.
    source = node.source or ""
    if node.get("refdomain") == "std" and "docstring of sklearn." in source:
        return contnode
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("missing-reference", _inherited_sklearn_reference, priority=900)
