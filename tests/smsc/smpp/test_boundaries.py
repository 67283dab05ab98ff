"""docs/architecture.md, "Layers": the SMPP codec and session are sans-IO; they import no
asyncio, sockets, threads or clocks (the time comes in as an argument)."""

from __future__ import annotations

import ast
from pathlib import Path

import smsc.smpp

PACKAGE = Path(smsc.smpp.__file__).parent
SANS_IO = ("constants", "errors", "framing", "times", "tlv", "pdu", "codec", "events", "session")
ALLOWED = {"__future__", "collections", "dataclasses", "datetime", "enum", "struct", "typing"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_codec_and_session_import_only_the_standard_librarys_pure_parts() -> None:
    for name in SANS_IO:
        assert imported_modules(PACKAGE / f"{name}.py") - ALLOWED - {"smsc"} == set(), name


def test_they_import_nothing_of_smsc_but_its_errors_and_each_other() -> None:
    for name in SANS_IO:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("smsc"):
                module = node.module
                assert (
                    module == "smsc.errors"
                    or module.removeprefix("smsc.smpp.") in SANS_IO
                    or (module == "smsc.smpp")
                ), (name, module)
