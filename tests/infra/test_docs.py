"""The repository's documentation stands alone: every relative link in a Markdown file resolves
to a file (and, with a #fragment, a heading) inside the repository, nothing refers to a path
outside it, the README stays short enough to read, and the docs it promises exist."""

import re
import subprocess

from conftest import REPO

LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE = re.compile(r"\.\./shared|ARCHITECTURE\.md|STYLE\.md")


def markdown_files():
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / p for p in tracked.stdout.split()]


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", path.read_text(), re.M)}


def test_every_relative_link_resolves_inside_the_repository():
    broken = []
    for md in markdown_files():
        for target in LINK.findall(md.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            resolved = (md.parent / path).resolve() if path else md
            if REPO.resolve() not in resolved.parents and resolved != REPO.resolve():
                broken.append(f"{md.relative_to(REPO)}: {target} leaves the repository")
            elif not resolved.exists():
                broken.append(f"{md.relative_to(REPO)}: {target} does not exist")
            elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                broken.append(f"{md.relative_to(REPO)}: {target} names no heading of {resolved.name}")
    assert broken == []


def test_nothing_refers_outside_the_repository():
    tracked = subprocess.run(["git", "grep", "-nE", OUTSIDE.pattern, "--", ".", ":!tests/infra/test_docs.py"],
                             cwd=REPO, capture_output=True, text=True)
    assert tracked.stdout == "", f"references to files outside the repository:\n{tracked.stdout}"


def test_the_readme_is_short_and_the_docs_it_promises_exist():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 220, "README.md grew past about 200 lines: move detail into docs/"
    for doc in ("docs/architecture.md", "docs/operations.md", "docs/benchmarks.md"):
        assert (REPO / doc).is_file(), f"{doc} is missing"
        assert doc in readme, f"README.md does not link {doc}"
    assert "```mermaid" in readme and "```mermaid" in (REPO / "docs/architecture.md").read_text()
