"""Codec benchmark: RP/TPDU decode and encode rates over the SMS-over-IP vector corpus.

Run from the repository root: ``python bench/codec.py [--quick] [--json]``.
Everything runs in this one process and thread, so the rates are single-core figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from io import StringIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's smsc

from smsc.sms.errors import DecodeError
from smsc.sms.rp import RpMessage, RpSmma, decode_rp, encode_rp
from smsc.sms.tp import SmsDeliver, SmsSubmit, Tpdu, decode_tpdu, encode_tpdu

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "sms-over-ip.json"
TARGET_DECODE_RATE = 100_000.0
TARGET_SPEEDUP = 20.0
Workload = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Settings:
    """Best of `repeats` timings, each running the workload for at least `min_time` seconds."""

    repeats: int
    min_time: float


FULL = Settings(repeats=5, min_time=0.3)
QUICK = Settings(repeats=3, min_time=0.05)


@dataclass(frozen=True, slots=True)
class Sample:
    """A valid vector carrying a TPDU: its RP body, the TPDU octets and both decoded once."""

    vector_id: str
    body: bytes
    rp: RpMessage
    octets: bytes
    tpdu: Tpdu


@dataclass(slots=True)
class Corpus:
    vectors: int = 0
    valid_bodies: int = 0
    samples: list[Sample] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    machine: dict[str, Any]
    date: str
    settings: Settings
    corpus: dict[str, int]
    rates: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    roundtrip_mismatches: list[str] = field(default_factory=list)
    unsupported_by_smspdudecoder: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return self.rates["subset_ours"] / self.rates["subset_smspdudecoder"]

    def targets(self) -> dict[str, bool]:
        return {
            "tpdu_decode": self.rates["tpdu_decode"] >= TARGET_DECODE_RATE,
            "speedup": self.speedup >= TARGET_SPEEDUP,
        }


# --- corpus -------------------------------------------------------------------------------------


def _carried_tpdu(rp: RpMessage) -> bytes | None:
    return None if isinstance(rp, RpSmma) else rp.user_data


def load_corpus(path: Path = VECTORS) -> Corpus:
    """Every vector whose body and TPDU decode; malformed vectors (DecodeError) are skipped."""
    vectors: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["vectors"]
    corpus = Corpus(vectors=len(vectors))
    for vector in vectors:
        body = bytes.fromhex(vector["hex"])
        try:
            rp = decode_rp(body)
            octets = _carried_tpdu(rp)
            tpdu = None if octets is None else decode_tpdu(octets, rp.message_type)
        except DecodeError:
            continue
        corpus.valid_bodies += 1
        if octets is not None and tpdu is not None:
            corpus.samples.append(Sample(vector["id"], body, rp, octets, tpdu))
    return corpus


# --- timing -------------------------------------------------------------------------------------


def _elapsed(workload: Workload, loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        workload()
    return time.perf_counter() - start


def _calibrated_loops(workload: Workload, settings: Settings) -> int:
    """Loops filling `settings.min_time`; running them doubles as the warm-up."""
    loops = 1
    while (elapsed := _elapsed(workload, loops)) < settings.min_time / 4:
        loops *= 2
    return max(1, math.ceil(loops * settings.min_time / elapsed))


def best_rates(workloads: dict[str, tuple[Workload, int]], settings: Settings) -> dict[str, float]:
    """Items/s of each (workload, items): best of `settings.repeats` timings.

    The repeats of the workloads are interleaved, so that a ratio between them sees the same
    background load.
    """
    loops = {name: _calibrated_loops(work, settings) for name, (work, _) in workloads.items()}
    best = dict.fromkeys(workloads, math.inf)
    for _ in range(settings.repeats):
        for name, (work, _) in workloads.items():
            best[name] = min(best[name], _elapsed(work, loops[name]))
    return {name: loops[name] * items / best[name] for name, (_, items) in workloads.items()}


# --- workloads (each runs once over its corpus) -------------------------------------------------


def tpdu_decoding(samples: Sequence[Sample]) -> Workload:
    jobs = [(s.octets, s.rp.message_type) for s in samples]

    def run() -> None:
        for octets, mti in jobs:
            decode_tpdu(octets, mti)

    return run


def body_decoding(samples: Sequence[Sample]) -> Workload:
    bodies = [s.body for s in samples]

    def run() -> None:
        for body in bodies:
            rp = decode_rp(body)
            if not isinstance(rp, RpSmma) and rp.user_data is not None:
                decode_tpdu(rp.user_data, rp.message_type)

    return run


def _rebuilder(rp: RpMessage) -> Callable[[bytes], RpMessage]:
    """The RP message's class with every field bound but the trailing RP-User-Data."""
    names = [f.name for f in fields(rp)]
    assert names[-1] == "user_data", names
    return partial(type(rp), *(getattr(rp, name) for name in names[:-1]))


def body_encoding(samples: Sequence[Sample]) -> Workload:
    jobs = [(_rebuilder(s.rp), s.tpdu) for s in samples]

    def run() -> None:
        for rebuild, tpdu in jobs:
            encode_rp(rebuild(encode_tpdu(tpdu)))

    return run


def roundtrip_mismatches(samples: Sequence[Sample]) -> list[str]:
    """Vectors whose re-encoding is not byte-identical to the original body."""
    return [
        s.vector_id for s in samples if encode_rp(_rebuilder(s.rp)(encode_tpdu(s.tpdu))) != s.body
    ]


# --- smspdudecoder side by side -----------------------------------------------------------------


def _their_input(sample: Sample) -> tuple[Any, str]:
    """smspdudecoder's decoder class and input: uppercase hex led by an empty SMSC field."""
    from smspdudecoder.fields import SMSDeliver, SMSSubmit

    cls = SMSDeliver if isinstance(sample.tpdu, SmsDeliver) else SMSSubmit
    return cls, "00" + sample.octets.hex().upper()


def _their_content(sample: Sample) -> Any:
    cls, hex_ = _their_input(sample)
    return cls.decode(StringIO(hex_))["user_data"]["data"]


def _our_content(sample: Sample) -> str | bytes:
    assert isinstance(sample.tpdu, SmsDeliver | SmsSubmit)
    user_data = sample.tpdu.user_data
    return user_data.body if user_data.text is None else user_data.text


def split_supported(samples: Sequence[Sample]) -> tuple[list[Sample], list[str]]:
    """DELIVER/SUBMIT samples smspdudecoder decodes without raising, and those it rejects."""
    supported: list[Sample] = []
    rejected: list[str] = []
    for sample in samples:
        if not isinstance(sample.tpdu, SmsDeliver | SmsSubmit):
            continue
        try:
            _their_content(sample)
        except Exception as exc:  # any failure means "unsupported" here
            rejected.append(f"{sample.vector_id}: {type(exc).__name__}: {exc}")
            continue
        supported.append(sample)
    return supported, rejected


def disagreements(samples: Sequence[Sample]) -> list[str]:
    """Vectors where smspdudecoder's text (or 8-bit data) differs from ours."""
    out = []
    for sample in samples:
        ours, theirs = _our_content(sample), _their_content(sample)
        if ours != theirs:
            out.append(f"{sample.vector_id}: ours {ours!r}, smspdudecoder {theirs!r}")
    return out


def their_decoding(samples: Sequence[Sample]) -> Workload:
    jobs = [_their_input(s) for s in samples]

    def run() -> None:
        for cls, hex_ in jobs:
            cls.decode(StringIO(hex_))

    return run


# --- report -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def machine() -> dict[str, Any]:
    return {
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def _measure(report: Report, workloads: dict[str, tuple[Workload, int]]) -> None:
    report.rates.update(best_rates(workloads, report.settings))
    report.counts.update((name, items) for name, (_, items) in workloads.items())


def run(settings: Settings) -> Report:
    corpus = load_corpus()
    samples = corpus.samples
    report = Report(
        machine(),
        dt.datetime.now().isoformat(timespec="seconds"),
        settings,
        {
            "vectors": corpus.vectors,
            "valid_bodies": corpus.valid_bodies,
            "skipped_malformed": corpus.vectors - corpus.valid_bodies,
            "tpdus": len(samples),
        },
    )
    _measure(report, {"tpdu_decode": (tpdu_decoding(samples), len(samples))})
    for kind in sorted({s.tpdu.message_type for s in samples}):
        subset = [s for s in samples if s.tpdu.message_type == kind]
        _measure(report, {f"tpdu_decode.{kind.name}": (tpdu_decoding(subset), len(subset))})
    _measure(report, {"body_decode": (body_decoding(samples), len(samples))})
    _measure(report, {"body_encode": (body_encoding(samples), len(samples))})
    report.roundtrip_mismatches = roundtrip_mismatches(samples)
    supported, report.unsupported_by_smspdudecoder = split_supported(samples)
    report.disagreements = disagreements(supported)
    _measure(
        report,
        {
            "subset_ours": (tpdu_decoding(supported), len(supported)),
            "subset_smspdudecoder": (their_decoding(supported), len(supported)),
        },
    )
    return report


def _rate_line(report: Report, name: str) -> str:
    rate, items = report.rates[name], report.counts[name]
    noun = "TPDU" if name.startswith(("tpdu", "subset")) else "RP body"
    if items != 1:
        noun = "RP bodies" if noun == "RP body" else "TPDUs"
    return f"{name}: {rate:,.0f}/s ({1e6 / rate:.2f} µs each; {items} {noun})"


def text_lines(report: Report) -> list[str]:
    m, c, s = report.machine, report.corpus, report.settings
    lines = [
        f"date: {report.date}",
        f"machine: processor={m['processor']!r} cpu_model={m['cpu_model']!r} "
        f"cpus={m['cpu_count']} python={m['implementation']} {m['python']}",
        f"corpus: {c['vectors']} vectors, {c['valid_bodies']} valid bodies "
        f"({c['skipped_malformed']} malformed skipped), {c['tpdus']} carry a TPDU",
        f"timing: one core, best of {s.repeats} repeats of >= {s.min_time:.2f} s each",
    ]
    lines += [_rate_line(report, name) for name in report.rates]
    lines += [
        f"speedup_vs_smspdudecoder: {report.speedup:.1f}x",
        f"roundtrip_byte_exact: {c['tpdus'] - len(report.roundtrip_mismatches)}/{c['tpdus']}",
        *(f"roundtrip_mismatch: {vid}" for vid in report.roundtrip_mismatches),
        *(f"smspdudecoder_unsupported: {u}" for u in report.unsupported_by_smspdudecoder),
        f"smspdudecoder_agreement: {report.counts['subset_ours'] - len(report.disagreements)}"
        f"/{report.counts['subset_ours']}",
        *(f"smspdudecoder_disagreement: {d}" for d in report.disagreements),
    ]
    targets = report.targets()
    verdict = {True: "PASS", False: "MISS"}
    lines += [
        f"target tpdu_decode >= {TARGET_DECODE_RATE:,.0f}/s: {verdict[targets['tpdu_decode']]}",
        f"target speedup >= {TARGET_SPEEDUP:.0f}x: {verdict[targets['speedup']]}",
    ]
    return lines


def as_json(report: Report) -> str:
    return json.dumps(
        {
            "date": report.date,
            "machine": report.machine,
            "settings": {"repeats": report.settings.repeats, "min_time": report.settings.min_time},
            "corpus": report.corpus,
            "rates": {name: round(rate, 1) for name, rate in report.rates.items()},
            "counts": report.counts,
            "speedup": round(report.speedup, 2),
            "targets": report.targets(),
            "roundtrip_mismatches": report.roundtrip_mismatches,
            "smspdudecoder_unsupported": report.unsupported_by_smspdudecoder,
            "smspdudecoder_disagreements": report.disagreements,
        },
        ensure_ascii=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (~2 s) for CI smoke")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = parser.parse_args(argv)
    report = run(QUICK if args.quick else FULL)
    print(as_json(report) if args.json else "\n".join(text_lines(report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
