"""The documentation site builds in strict mode, so a broken link or reference fails."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by `mkdocs build --strict` into a temporary folder."""
    pytest.importorskip("mkdocs", reason="install the docs tools: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings")
    output = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, output


def test_site_builds_in_strict_mode(site):
    """No warning at all: missing pages, bad links and docstring problems fail the build."""
    result, _ = site
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr


def test_api_reference_is_rendered_from_the_docstrings(site):
    """mkdocstrings turned the docstrings into pages (not just headings)."""
    _, output = site
    search = (output / "api" / "search" / "index.html").read_text(encoding="utf-8")
    assert "steps_per_candidate" in search and "SearchResult" in search
    space = (output / "api" / "space" / "index.html").read_text(encoding="utf-8")
    assert "max_start_size" in space
    metrics = (output / "api" / "metrics" / "index.html").read_text(encoding="utf-8")
    assert "kernel_inception_distance" in metrics


def test_every_page_is_built(site):
    """Each Markdown page in the nav has an HTML page."""
    _, output = site
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as stream:
        pages = re.findall(r":\s*([\w/.-]+\.md)\s*$", stream.read(), flags=re.MULTILINE)
    assert "index.md" in pages and "benchmarks.md" in pages
    for page in pages:
        stem = page[: -len(".md")]
        folder = os.path.dirname(stem) if os.path.basename(stem) == "index" else stem
        html = output / folder / "index.html"
        assert html.is_file(), page


def test_docs_home_repeats_the_readme_commands():
    """The site's home page shows the README's two commands exactly."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as stream:
        readme = stream.read()
    with open(os.path.join(ROOT, "docs", "index.md"), encoding="utf-8") as stream:
        home = stream.read()
    commands = re.search(r"```bash\n(# 1\..*?)```", readme, flags=re.DOTALL).group(1)
    assert commands in home
