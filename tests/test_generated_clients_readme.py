"""README's client examples type-check with ``mypy --strict`` exactly as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Generated clients", "Client configuration")
MYPY = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent"]


def readme_blocks() -> list[str]:
    """The ```python blocks of the README sections about generated clients."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = []
    for title in SECTIONS:
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
        assert match, f"README has no section {title!r}"
        blocks += re.findall(r"^```python\n(.*?)^```", match.group(1), re.S | re.M)
    return blocks


def _mypy(tmp_path: Path, sources: list[str]) -> subprocess.CompletedProcess[str]:
    files = []
    for n, source in enumerate(sources):
        path = tmp_path / f"readme_block_{n}.py"
        path.write_text(source)
        files.append(str(path))
    return subprocess.run([*MYPY, *files], capture_output=True, text=True, cwd=ROOT)


def test_readme_client_examples_pass_mypy_strict(tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 2 and any("request_options=" in b for b in blocks)
    assert any('metadata={"plan": "gold"}' in b for b in blocks)
    result = _mypy(tmp_path, blocks)
    assert result.returncode == 0, result.stdout


def test_the_check_catches_a_wrongly_typed_dict(tmp_path: Path) -> None:
    block = next(b for b in readme_blocks() if '"country": "NO"' in b)
    result = _mypy(tmp_path, [block.replace('"country": "NO"', '"country": 47')])
    assert result.returncode == 1 and 'Argument "address"' in result.stdout
