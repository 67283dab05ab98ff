"""The `smsc` command (docs/architecture.md, "Contracts")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import re
import resource
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import yaml

from aml.formats import report_as_dict
from aml.parser import parse_aml
from smsc.app import serve, worker_processes
from smsc.errors import SmscError, StartupError
from smsc.log_setup import configure_logging
from smsc.settings import Settings, SettingsError, effective_configuration, load_settings
from smsc.settings_fields import masked_url
from smsc.settings_reference import render_reference
from smsc.sms.describe import describe_rp, describe_tpdu, tpdu_of
from smsc.sms.errors import DecodeError
from smsc.sms.rp import decode_rp
from smsc.sms.tp import decode_tpdu
from smsc.startup import EXIT_CONFIGURATION, EXIT_ENVIRONMENT, reason_of
from smsc.store.migrate import upgrade_sync
from smsc.version import version_line
from smsc.workers.link import WorkerRole
from smsc.workers.pool import WORKER_OPTION

EXIT_MALFORMED = 2
log = logging.getLogger("smsc")
_SEPARATORS = re.compile(r"[\s:.-]")


def _read_hex(argument: str) -> str:
    return sys.stdin.read() if argument == "-" else argument


def decode_command(argument: str) -> tuple[int, dict[str, Any], str | None]:
    """Decode hex text to (exit status, JSON document, one-line reason or None)."""
    text = _SEPARATORS.sub("", _read_hex(argument))
    text = text.removeprefix("0x").removeprefix("0X")
    try:
        body = bytes.fromhex(text)
    except ValueError:
        return (
            EXIT_MALFORMED,
            {"error": "input is not hexadecimal", "rp_cause": None},
            ("input is not hexadecimal"),
        )
    document: dict[str, Any] = {}
    try:
        message = decode_rp(body)
        document["rp"] = describe_rp(message)
        tpdu = tpdu_of(message)
        document["tp"] = (
            None if tpdu is None else describe_tpdu(decode_tpdu(tpdu, message.message_type))
        )
    except DecodeError as exc:
        document["error"] = str(exc)
        document["rp_cause"] = int(exc.rp_cause)
        if exc.tp_fcs is not None:
            document["tp_fcs"] = int(exc.tp_fcs)
        return EXIT_MALFORMED, document, f"malformed: {exc} (RP-Cause {int(exc.rp_cause)})"
    return 0, document, None


def _decode(args: argparse.Namespace) -> int:
    status, document, reason = decode_command(" ".join(args.hex))
    print(json.dumps(document, ensure_ascii=False, indent=2))
    if reason is not None:
        print(reason, file=sys.stderr)
    return status


GC_THRESHOLDS = (20_000, 20, 100)
"""The service keeps ~10^5 live SIP transactions (Timer J holds a UDP server transaction for
32 s) and allocates a few dozen containers per message: with CPython's default (700, 10, 10)
the collector rescanned that heap often enough to take ~6% of the CPU at 3,000 MO/s."""


def _raise_file_limit() -> None:
    """The soft limit of open files up to the hard one: a busy SMSC holds many sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _tune_gc() -> None:
    """Fewer, larger collections; what was imported at start-up is never scanned again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _load(args: argparse.Namespace) -> Settings | None:
    """The settings, or None after printing one line per problem (each naming its key)."""
    try:
        return load_settings(args.config)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"smsc: configuration error: {problem}", file=sys.stderr)
        return None


def _serve_argv(args: argparse.Namespace) -> list[str]:
    """The `smsc serve` arguments a worker process gets (plus --worker)."""
    argv = ["serve"]
    if args.config is not None:
        argv += ["--config", str(Path(args.config).resolve())]
    if args.log_level is not None:
        argv += ["--log-level", args.log_level]
    if args.debug:
        argv.append("--debug")
    return argv


def _serve(args: argparse.Namespace) -> int:
    worker = None
    if args.worker is not None:
        try:
            worker = WorkerRole.parse(args.worker)
        except ValueError as exc:
            print(f"smsc: {exc}", file=sys.stderr)
            return EXIT_CONFIGURATION
    settings = _load(args)
    if settings is None:
        return EXIT_CONFIGURATION
    configure_logging(
        args.log_level or settings.logging.level,
        settings.logging.format,
        show_subscriber_data=settings.logging.show_subscriber_data,
        process=None if worker is None else f"w{worker.index}",
    )
    if worker is None:
        log.info("%s", version_line())
        log.info("configuration %s", args.config or "embedded defaults")
    _tune_gc()
    _raise_file_limit()
    try:
        _run(serve(settings, worker=worker, serve_argv=_serve_argv(args)))
    except StartupError as exc:
        if args.debug:
            log.exception("start failed")
        print(f"smsc: cannot start: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        pass
    return 0


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # noqa: PLC0415  (optional: a faster event loop when installed)
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _config_check(args: argparse.Namespace) -> int:
    settings = _load(args)
    if settings is None:
        return EXIT_CONFIGURATION
    try:
        worker_processes(settings)  # the one check across sections, as `serve` makes it
    except StartupError as exc:
        print(f"smsc: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    print(f"# effective configuration of {args.config or 'the embedded defaults'}", end="")
    print(" with SMSC__ overrides; secrets masked")
    print(yaml.safe_dump(effective_configuration(settings), sort_keys=False), end="")
    return 0


def _config_reference(args: argparse.Namespace) -> int:
    print(render_reference(), end="")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = _load(args)
    if settings is None:
        return EXIT_CONFIGURATION
    url = masked_url(settings.storage.database_url)
    try:
        upgrade_sync(settings.storage.database_url, schema=settings.storage.schema)
    except SmscError as exc:
        print(f"smsc: database {url}: upgrade failed: {reason_of(exc)}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    print(f"database at {url} is at the newest schema")
    return 0


def _aml_parse(args: argparse.Namespace) -> int:
    text = sys.stdin.read().rstrip("\r\n") if args.text == "-" else args.text
    report = parse_aml(text)
    print(json.dumps(report_as_dict(report), ensure_ascii=False, indent=2))
    if not report.is_aml:
        print('not an AML message (no A"ML= header)', file=sys.stderr)
        return EXIT_MALFORMED
    return 0


LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsc", description="SMSC / IP-SM-GW for IMS networks")
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the service")
    run.add_argument("-c", "--config", type=Path, default=None, help="YAML configuration file")
    run.add_argument(
        "--log-level", choices=LOG_LEVELS, default=None, help="overrides logging.level"
    )
    run.add_argument(
        "--debug", action="store_true", help="show the traceback when the service cannot start"
    )
    run.add_argument(WORKER_OPTION, default=None, help=argparse.SUPPRESS)
    run.set_defaults(handler=_serve)
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser(
        "check", help="validate; print the effective configuration (exit 0) or the errors (exit 2)"
    )
    check.add_argument("-c", "--config", type=Path, default=None, help="YAML configuration")
    check.set_defaults(handler=_config_check)
    reference = config_commands.add_parser(
        "reference", help="print the configuration reference (Markdown) of every key"
    )
    reference.set_defaults(handler=_config_reference)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="migrate the database to the newest schema")
    db_upgrade.add_argument("-c", "--config", type=Path, default=None, help="YAML configuration")
    db_upgrade.set_defaults(handler=_db_upgrade)
    aml = commands.add_parser("aml", help="Advanced Mobile Location tools")
    aml_commands = aml.add_subparsers(dest="aml_command", required=True)
    aml_parse = aml_commands.add_parser("parse", help="parse an AML SMS text, print JSON")
    aml_parse.add_argument("text", help='the SMS text (A"ML=1;lt=...), or - for stdin')
    aml_parse.set_defaults(handler=_aml_parse)
    decode = commands.add_parser(
        "decode", help="decode an application/vnd.3gpp.sms body (RP message) given in hex"
    )
    decode.add_argument(
        "hex", nargs="+", help="hex octets (spaces and colons allowed), or - for stdin"
    )
    decode.set_defaults(handler=_decode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
