"""What a package index shows and what an installation contains.

The README is the long description: no link in it may be relative (it would
point nowhere on the index's page), and it must render. The installed
metadata's version is ``skrt.__version__``. Checks of the installed metadata
skip where the distribution ``scikit-regularity`` is not installed; CI sets
``SKRT_TEST_INSTALLED=1`` when it runs the suite against the installed wheel
outside the source tree, which turns on the checks of where ``skrt`` came from.
"""

import email.message
import importlib.metadata
import os
import pathlib
import re
import sysconfig

import pytest

import skrt

ROOT = pathlib.Path(__file__).parents[1]
DIST = "scikit-regularity"
BASE = "https://github.com/skrt-developers/scikit-regularity"
INSTALLED_RUN = bool(os.environ.get("SKRT_TEST_INSTALLED"))

_MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")
_MD_REF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)


def relative_links(markdown):
    """Link and image targets in ``markdown`` that are not absolute URLs.

    Parameters
    ----------
    markdown : str
        Markdown text (inline links, reference definitions, HTML tags).

    Returns
    -------
    list of str
        The targets that do not start with ``https://`` or ``http://``
        (in-page ``#anchors`` included: an index's page has no such ids).
    """
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)  # code is no link
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = _MD_LINK.findall(text) + _MD_REF.findall(text) + _HTML_LINK.findall(text)
    return [t for t in targets if not re.match(r"https?://", t)]


def test_relative_link_finder_flags_what_it_must():
    text = (
        "[a](docs/x.rst) ![i](img.png) [b](#part) [c](https://e.org/y) "
        "`[d](in/code.md)`\n\n[r]: ../z.md\n<a href='rel.html'>x</a>\n"
        "```python\nx = '[e](f.md)'\n```\n"
    )
    assert relative_links(text) == [
        "docs/x.rst",
        "img.png",
        "#part",
        "../z.md",
        "rel.html",
    ]


def _readme():
    path = ROOT / "README.md"
    if not path.exists():
        pytest.skip("no README.md next to tests/")
    return path.read_text(encoding="utf-8")


def test_readme_has_no_relative_links():
    assert relative_links(_readme()) == []


def test_readme_links_to_the_repository_use_one_base():
    repo_links = re.findall(r"https://github\.com/[^)\s\"'>]+", _readme())
    assert repo_links, "the README links nowhere into the repository"
    assert all(link.startswith(BASE + "/") for link in repo_links), repo_links


def test_readme_renders_as_the_index_would():
    markdown = pytest.importorskip("readme_renderer.markdown")
    if not getattr(markdown, "variants", None):
        pytest.skip("readme_renderer has no Markdown renderer: readme_renderer[md]")
    html = markdown.render(_readme(), variant="GFM")
    assert html, "the README does not render"
    assert "<table>" in html  # the feature table is GFM, not plain text
    assert html.count("<pre") >= 2  # the set-up commands and the example


def _metadata():
    try:
        return importlib.metadata.metadata(DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"the distribution {DIST} is not installed")


def _description(meta: email.message.Message):
    return meta.get_payload() or meta.get("Description", "")


def test_installed_version_is_skrt_version():
    _metadata()
    assert importlib.metadata.version(DIST) == skrt.__version__


def test_installed_long_description_is_the_readme_without_relative_links():
    meta = _metadata()
    assert meta["Description-Content-Type"].startswith("text/markdown")
    description = _description(meta)
    assert description.startswith("# skrt")
    assert relative_links(description) == []
    if INSTALLED_RUN:  # the wheel was built from this README
        assert description.strip() == _readme().strip()


def test_installed_metadata_classifiers_and_urls():
    meta = _metadata()
    classifiers = meta.get_all("Classifier") or []
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Operating System :: OS Independent" in classifiers
    # the SPDX expression replaces License classifiers (setuptools >= 77)
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert not [c for c in classifiers if c.startswith("License ::")]
    trove = pytest.importorskip("trove_classifiers")
    unknown = [c for c in classifiers if c not in trove.classifiers]
    assert unknown == [], f"not trove classifiers: {unknown}"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(url.startswith(BASE) for url in urls.values()), urls


def _site_dirs():
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def test_module_skrt_comes_from_this_distribution_alone():
    """``skrt`` 1.3.2.1 and ``scikit-rt`` also install a module ``skrt``."""
    _metadata()
    owners = set()
    for dist in importlib.metadata.distributions(path=_site_dirs()):
        top = (dist.read_text("top_level.txt") or "").split()
        files = [str(f) for f in dist.files or []]
        if "skrt" in top or any(f.startswith("skrt/") for f in files):
            owners.add(dist.metadata["Name"])
    assert sorted(owners) == [DIST], (
        f"site-packages/skrt is claimed by {sorted(owners)}: "
        "one environment per distribution"
    )


def test_console_script_skrt():
    _metadata()
    entry_points = importlib.metadata.distribution(DIST).entry_points
    scripts = [ep for ep in entry_points if ep.group == "console_scripts"]
    assert [(ep.name, ep.value) for ep in scripts] == [("skrt", "skrt._cli:main")]


@pytest.mark.skipif(not INSTALLED_RUN, reason="CI's run against the installed wheel")
def test_suite_runs_against_the_installed_package():
    site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
    where = pathlib.Path(skrt.__file__).resolve()
    assert where.is_relative_to(site), f"skrt imported from {where}, not {site}"
    assert not (ROOT / "skrt").exists(), "the tests run next to a source tree"
    files = {str(f) for f in importlib.metadata.files(DIST) or []}
    assert "skrt/__init__.py" in files and "skrt/_cli.py" in files


def test_installed_metadata_ships_the_licence_text():
    meta = _metadata()
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    dist = importlib.metadata.distribution(DIST)
    shipped = [f for f in dist.files or [] if f.name == "LICENSE"]
    if INSTALLED_RUN:  # a wheel install lists the file it shipped
        assert shipped and "BSD 3-Clause" in shipped[0].read_text()
