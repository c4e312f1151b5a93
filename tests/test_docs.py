"""The docs stay readable and inside the repository.

* Every reference doc (README.md, docs/*.md, */README.md; not the records in docs/experiments/) is at
  most 300 lines: one sitting. Dated plans and runs go to docs/experiments/, one file per study.
* No doc or source file points outside the repository: no reference to the design brief or to the
  shared folder beside the checkout (the facts live in docs/science.md), and no absolute path into
  the machine's work folder outside the records.
* Every record in docs/experiments/ is linked from a reference doc.
* Every relative Markdown link resolves to a file of the repository (and its #anchor to a heading),
  and every repository path a doc or source file names (`docs/science.md#masking`, ...) exists.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 300
TEXT_SUFFIXES = {".py", ".md", ".html", ".txt", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".sh", ".properties"}
TEXT_NAMES = {"run"}  # executable scripts without a suffix (./run, .ci/run)
SKIP_PARTS = {".git", ".venv", "var", "node_modules", "__pycache__", ".ruff_cache", ".pytest_cache", "vendor"}
RECORDS = "docs/experiments/"
# Built from parts so that this file does not match itself.
OUTSIDE = ("DESIGN" + ".md", ".." + "/shared", "/work" + "/shared")
ABSOLUTE = "/work" + "/"
TOP = ("docs", "platform", "gaitcore", "workers", "serving", "uploader", "tests", "bench", "k8s")
# A repository path named in text: a top-level folder, then a path ending in a file suffix. Placeholders
# (`tests/platform/<app>/test_api.py`) and globs (`tests/gaitcore/test_synth*.py`) do not match whole.
REPO_PATH = re.compile(
    r"(?<![\w./<>*-])((?:" + "|".join(TOP) + r")/[\w./-]*\.(?:md|py|html|toml|yaml|yml|json|txt))(#[\w-]+)?(?![\w*<>/-])"
)
MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


@functools.cache
def repo_files() -> tuple[str, ...]:
    """Tracked and not-ignored untracked files (what a clone has), repository-relative."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True, timeout=30,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.SubprocessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    return tuple(n for n in names if not SKIP_PARTS.intersection(Path(n).parts) and (ROOT / n).is_file())


def text_files() -> list[str]:
    return [n for n in repo_files() if Path(n).suffix in TEXT_SUFFIXES or Path(n).name in TEXT_NAMES]


def reference_docs() -> list[str]:
    return [
        n for n in repo_files()
        if n == "README.md"
        or (n.startswith("docs/") and n.count("/") == 1 and n.endswith(".md"))
        or (n.count("/") == 1 and n.endswith("/README.md"))
    ]


@functools.cache
def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8", errors="replace")


@functools.cache
def anchors(name: str) -> frozenset[str]:
    """GitHub's heading anchors of a Markdown file (headings inside code fences are not headings)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", read(name))):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(out)


def check_target(path: str, anchor: str | None) -> str | None:
    """Why a repository path (+ anchor) does not resolve, or None."""
    if not (ROOT / path).exists():
        return "no such file in the repository"
    if anchor and path.endswith(".md") and anchor not in anchors(path):
        return f"no heading with anchor #{anchor}"
    return None


def test_reference_docs_are_short():
    docs = reference_docs()
    assert "README.md" in docs and "docs/science.md" in docs  # the walk found them
    long = {n: len(read(n).splitlines()) for n in docs if len(read(n).splitlines()) > MAX_LINES}
    assert not long, (
        f"reference docs over {MAX_LINES} lines (move dated plans and runs to {RECORDS}<study>.md): {long}"
    )


def test_nothing_points_outside_the_repository():
    bad = []
    for name in text_files():
        text = read(name)
        banned = OUTSIDE if name.startswith(RECORDS) else (*OUTSIDE, ABSOLUTE)
        for lineno, line in enumerate(text.splitlines(), 1):
            bad += [f"{name}:{lineno}: {s!r}" for s in banned if s in line]
    assert not bad, "references outside the repository (point at docs/science.md instead):\n" + "\n".join(bad)


def test_markdown_links_resolve():
    bad = []
    for name in text_files():
        if not name.endswith(".md"):
            continue
        for target in MD_LINK.findall(FENCE.sub("", read(name))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            if not path:
                why = check_target(name, anchor)
            elif path.startswith("/"):
                why = "absolute path: link relative to the file"
            else:
                resolved = (ROOT / name).parent / path
                try:
                    rel = resolved.resolve().relative_to(ROOT)
                except ValueError:
                    why = "outside the repository"
                else:
                    why = check_target(str(rel), anchor)
            if why:
                bad.append(f"{name}: ({target}): {why}")
    assert not bad, "broken Markdown links:\n" + "\n".join(bad)


def test_named_repository_paths_exist():
    """`docs/science.md#masking` in a comment, `gaitcore/schemas.py` in a doc: they must exist (records
    in docs/experiments/ describe the code of their day and are not checked)."""
    bad = []
    for name in text_files():
        if name.startswith(RECORDS):
            continue
        for lineno, line in enumerate(read(name).splitlines(), 1):
            for path, anchor in REPO_PATH.findall(line):
                why = check_target(path.rstrip("."), anchor.lstrip("#") or None)
                if why:
                    bad.append(f"{name}:{lineno}: {path}{anchor}: {why}")
    assert not bad, "paths named that are not in the repository:\n" + "\n".join(bad)


def test_every_record_is_linked_from_a_reference_doc():
    refs = "\n".join(read(n) for n in reference_docs())
    records = [n for n in repo_files() if n.startswith(RECORDS) and n.endswith(".md")]
    orphans = [n for n in records if n.removeprefix("docs/") not in refs]
    assert not orphans, f"records no reference doc links to: {orphans}"


@pytest.mark.parametrize(
    "text, found",
    [
        ("see docs/science.md#masking.", [("docs/science.md", "#masking")]),
        ("(`gaitcore/model/gaitmae.py`)", [("gaitcore/model/gaitmae.py", "")]),
        ("tests/platform/<app>/test_api.py and tests/gaitcore/test_synth*.py", []),
        ("../docs/science.md", []),
    ],
)
def test_path_pattern(text, found):
    assert REPO_PATH.findall(text) == found
