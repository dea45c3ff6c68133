"""Our documents: links resolve inside the repository, and the contract page matches the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from data.contract import CHANNELS, DIRECTIONS, PRIORITIES, TABLES, Column

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"outputs", "node_modules"}  # and every folder whose name starts with "."
CONTRACT = ROOT / "docs" / "data-contract.md"


def _files(*patterns: str) -> list[Path]:
    found = []
    for pattern in patterns:
        for path in ROOT.rglob(pattern):
            parts = path.relative_to(ROOT).parts[:-1]
            if not any(p.startswith(".") or p in SKIP_DIRS for p in parts):
                found.append(path)
    return sorted(found)


def _unfenced(text: str) -> str:
    """Markdown without its fenced code blocks."""
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)


def _prose(text: str) -> str:
    """Markdown without code blocks and inline code spans, where links are not links."""
    return re.sub(r"`[^`\n]*`", "", _unfenced(text))


def links(text: str) -> list[str]:
    """Targets of inline links and images, reference definitions and HTML href/src."""
    prose = _prose(text)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)
    defined = re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, flags=re.M)
    html = re.findall(r"(?:href|src)=\"([^\"]+)\"", prose)
    return inline + defined + html


def anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown text."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _unfenced(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken(md: Path, target: str) -> str | None:
    """Why `target`, a link in `md`, does not resolve inside the repository (None if it does)."""
    if re.match(r"(https?|mailto):", target):
        return None
    if re.match(r"[a-zA-Z][\w+.-]*:", target):
        return "a link to something that is neither a file of the repository nor a web page"
    path, _, fragment = target.partition("#")
    base = ROOT if path.startswith("/") else md.parent
    resolved = (base / path.lstrip("/")).resolve() if path else md
    if not resolved.is_relative_to(ROOT):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file"
    if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text()):
        return f"no heading #{fragment} in {resolved.relative_to(ROOT)}"
    return None


MARKDOWN = _files("*.md")


def test_the_licence_file_is_the_licence_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    words = (ROOT / "LICENSE").read_text().split()
    assert words[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in " ".join(words)


@pytest.mark.parametrize("md", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(md: Path):
    problems = [f"{t}: {why}" for t in links(md.read_text()) if (why := broken(md, t))]
    assert not problems, f"{md.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_link_checker_finds_what_breaks(tmp_path: Path):
    page = ROOT / "docs" / "page.md"  # never written: links resolve from its folder
    text = (
        "[out](../../shared/data-contract.md) [gone](missing.md) [ok](data-contract.md)\n"
        "[anchor](data-contract.md#accounts) [bad anchor](data-contract.md#nowhere)\n"
        "[web](https://example.org) [file](file:///etc/passwd) `[code](../x.md)`\n"
        "[ref]: /README.md\n"
    )
    found = {t: broken(page, t) for t in links(text)}
    assert found == {
        "../../shared/data-contract.md": "points outside the repository",
        "missing.md": "no such file",
        "data-contract.md": None,
        "data-contract.md#accounts": None,
        "data-contract.md#nowhere": "no heading #nowhere in docs/data-contract.md",
        "https://example.org": None,
        "file:///etc/passwd": (
            "a link to something that is neither a file of the repository nor a web page"
        ),
        "/README.md": None,
    }


def test_markdown_files_named_in_code_and_config_exist():
    named = []
    for path in _files("*.py", "*.yaml", "*.toml", "Makefile"):
        if path.relative_to(ROOT).parts[0] == "tests":  # tests name missing files on purpose
            continue
        for name in re.findall(r"(?<![\w./-])([\w][\w./-]*\.md)\b", path.read_text()):
            if not ((ROOT / name).exists() or (path.parent / name).exists()):
                named.append(f"{path.relative_to(ROOT)}: {name}")
    assert not named


def _doc_tables(text: str) -> dict[str, list[list[str]]]:
    """The rows of the table under each `## ` heading (one table each), header left out."""
    out = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        rows = [line for line in body.splitlines() if line.startswith("|")]
        cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
        out[title.strip()] = [[r[0].strip("`"), *r[1:]] for r in cells[2:]]
    return out


def _type_text(column: Column) -> str:
    low, high = column.min_value, column.max_value
    if low is not None and high is not None:
        return f"{column.kind} {low:g}–{high:g}"
    if low is not None:
        return f"{column.kind} ≥ {low:g}"
    return f"{column.kind} ≤ {high:g}" if high is not None else str(column.kind)


def test_the_contract_page_lists_the_tables_of_the_code():
    overview = _doc_tables(CONTRACT.read_text())["The folder"]
    listed = {row[0]: row for row in overview}
    assert list(listed) == list(TABLES)
    for name, table in TABLES.items():
        assert listed[name][2] == ("required" if table.required else "optional"), name
        key = f"{table.unique}, unique" if table.unique else "—"
        assert listed[name][3].replace("`", "") == key, name


@pytest.mark.parametrize("name", list(TABLES))
def test_the_contract_page_gives_each_column_as_the_code_does(name: str):
    rows = _doc_tables(CONTRACT.read_text())[name]
    documented = {row[0]: (row[1], row[2]) for row in rows}
    expected = {
        c.name: (_type_text(c), "yes" if c.required else "no") for c in TABLES[name].columns
    }
    assert documented == expected


def test_the_contract_page_names_the_known_values_of_categoricals():
    rows = {
        r[0]: r[3] for t in ("contacts", "tickets") for r in _doc_tables(CONTRACT.read_text())[t]
    }
    for column, values in (
        ("channel", CHANNELS),
        ("direction", DIRECTIONS),
        ("priority", PRIORITIES),
    ):
        assert all(f"`{v}`" in rows[column] for v in values), column


def test_ci_runs_what_the_readme_tells_a_contributor_to_run():
    steps = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert steps == ["make lint", "make test"]
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{step}`" in readme for step in steps)
