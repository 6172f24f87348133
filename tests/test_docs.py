"""The documentation: the site builds without a warning, the getting-started page's Python
runs as written, README.md stays a front door, and no relative link is broken."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GETTING_STARTED = DOCS / "getting-started.md"
README_MAX_LINES = 250
#: the comment that keeps the fenced block after it out of test_getting_started_runs
NOT_RUN = re.compile(r"<!--\s*not run by the tests\b.*?-->")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's notice about MkDocs 2
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None
                    or importlib.util.find_spec("mkdocstrings") is None,
                    reason="mkdocs and mkdocstrings are not installed (pip install '.[docs]')")
def test_site_builds_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, env=_child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    cli_page = (tmp_path / "cli" / "index.html").read_text(encoding="utf-8")
    # the hook put every verb's --help in the page
    for verb in ("train", "translate", "export", "evaluate", "demo", "bench"):
        assert f"usage: attngan {verb}" in cli_page, verb


def python_snippets(markdown: str) -> list[str]:
    """The ```python blocks of ``markdown`` in order, less those after a NOT_RUN comment."""
    snippets, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            skipped = i > 0 and NOT_RUN.search(lines[i - 1]) is not None
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            if not skipped:
                snippets.append("\n".join(lines[i + 1:end]))
            i = end
        i += 1
    return snippets


def test_python_snippets_parser():
    text = textwrap.dedent("""\
        ```python
        a = 1
        ```
        <!-- not run by the tests: needs data -->
        ```python
        b = 2
        ```
        ```bash
        c = 3
        ```
        ```python
        d = 4
        ```
        """)
    assert python_snippets(text) == ["a = 1", "d = 4"]


def test_getting_started_runs(tmp_path):
    """Every Python snippet of docs/getting-started.md, in order, in one namespace, in an
    empty folder (they make their own data: the demo's images at 32 px)."""
    snippets = python_snippets(GETTING_STARTED.read_text(encoding="utf-8"))
    assert len(snippets) >= 4, "the page lost its snippets?"
    runner = tmp_path / "run_snippets.py"
    runner.write_text(textwrap.dedent(f"""\
        import sys
        snippets = {snippets!r}
        namespace = {{"__name__": "__main__"}}
        for number, code in enumerate(snippets, 1):
            print(f"--- snippet {{number}} of {{len(snippets)}}", flush=True)
            try:
                exec(compile(code, f"getting-started.md snippet {{number}}", "exec"), namespace)
            except BaseException:
                print(code, file=sys.stderr)
                raise
        """), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run([sys.executable, str(runner)], cwd=work, env=_child_env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    assert (work / "runs" / "my_uag" / "model.keras").exists()
    assert (work / "export" / "my_uag" / "1" / "saved_model.pb").exists()


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it under {README_MAX_LINES} and move "
        "detail into docs/")


LINK = re.compile(r"""(?:\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\))"""   # [text](target)
                  r"""|(?:\b(?:src|href)\s*=\s*["']([^"']+)["'])""")        # <img src=...>
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a markdown file (code blocks and spans left out),
    without their #anchors."""
    text = CODE.sub("", path.read_text(encoding="utf-8"))
    targets = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            continue  # https:, mailto:, an anchor in the same page, a site-absolute path
        targets.append(target.split("#", 1)[0])
    return targets


def markdown_files() -> list[Path]:
    return [README] + sorted(DOCS.rglob("*.md"))


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_exist(path):
    missing = [target for target in relative_links(path)
               if not (path.parent / target).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_anchors_exist():
    """README.md's links into docs/ pages name headings that exist (the site build checks
    the links between pages; README.md is not part of the site)."""
    slugify = pytest.importorskip("markdown.extensions.toc").slugify
    text = CODE.sub("", README.read_text(encoding="utf-8"))
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]+\.md)#([^)\s]+)\)", text):
        headings = re.findall(r"^#+\s+(.*?)\s*$", (ROOT / target).read_text(encoding="utf-8"),
                              re.M)
        if anchor not in {slugify(heading, "-") for heading in headings}:
            broken.append(f"{target}#{anchor}")
    assert not broken, f"README.md links to missing headings: {broken}"
