"""Sphinx configuration: numpydoc API pages, sphinx-gallery over examples/.

The pages document the *installed* package (``pip install ".[doc]"`` first):
CI builds them against the installed wheel, outside the source tree.
"""

import warnings

import skrt

project = "scikit-regularity"
author = "skrt developers"
copyright = "2026, skrt developers"  # noqa: A001
release = version = skrt.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False  # autodoc lists the methods (template)
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"
html_theme_options = {"description": "regression models with a sense of curiosity"}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every example
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}

# examples save PNGs themselves and call matplotlib.use("Agg"); the scraper
# collects the open figures
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document skrt's own methods (the mixins' included), not the ones
    inherited from scikit-learn's base classes (documented there)."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and (name.startswith("_") or not module.startswith("skrt")):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
