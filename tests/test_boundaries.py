"""docs/architecture.md, "Layers": pure modules import no asyncio, sockets, threads or clocks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE = [ROOT / "smsc" / "sms", ROOT / "smsc" / "sip", ROOT / "smsc" / "relay.py"]
PURE += [ROOT / "smsc" / "routing"]
PURE += [ROOT / "charging" / n for n in ("ccr.py", "results.py", "pani.py")]
PURE += [ROOT / "aml" / n for n in ("parser.py", "formats.py")]
FORBIDDEN = {"asyncio", "socket", "threading", "time", "selectors", "aiohttp", "sqlalchemy"}


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for path in PURE:
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.exists():
            files.append(path)
    return files


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_pure_modules_do_no_io() -> None:
    files = _pure_files()
    assert files, "no pure module found"
    offenders = {str(p.relative_to(ROOT)): _imports(p) & FORBIDDEN for p in files}
    assert not {k: v for k, v in offenders.items() if v}
