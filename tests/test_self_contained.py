"""The repository stands on its own: nothing in it points a reader at files outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(
    r"\.\./shared|shared/(?:tools|reference|vectors)/|DESIGN\.md|standards\.md|dependencies\.md"
)
SKIPPED = {".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
SKIPPED_FILES = {Path(__file__).resolve()}


def text_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if any(part in SKIPPED or part.endswith(".egg-info") for part in path.parts):
            continue
        if path.is_file() and path.resolve() not in SKIPPED_FILES and path.stat().st_size < 2**20:
            found.append(path)
    return found


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_documents_the_readme_links_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\((docs/[^)#]+)\)", readme):
        assert (ROOT / target).is_file(), target
