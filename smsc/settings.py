"""The one place that reads configuration: YAML file, then SMSC__SECTION__KEY variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smsc.errors import SmscError

ENV_PREFIX = "SMSC__"


class SettingsError(SmscError):
    """The configuration is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class SipSettings:
    listen: tuple[str, ...] = ("udp:127.0.0.1:5060", "tcp:127.0.0.1:5060")
    psi: str = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
    next_hop: str | None = None
    trusted_peers: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    via_host: str | None = None
    t1_ms: int = 500
    t2_ms: int = 4000
    t4_ms: int = 5000


@dataclass(frozen=True, slots=True)
class SmscSettings:
    sc_address: str = "+491710760000"
    home_plmns: tuple[str, ...] = ("26201",)
    tr1m_s: float = 40.0
    fill_rp_da_prefixes: tuple[str, ...] = ()
    pani_trust: str = "network-provided"
    emergency_numbers_file: str | None = None
    duplicate_window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class StorageSettings:
    database_url: str = "sqlite+aiosqlite:///var/smsc.db"
    redis_url: str | None = None
    schema: str | None = None
    redis_prefix: str = "smsc:"


@dataclass(frozen=True, slots=True)
class ChargingPeer:
    host: str
    address: str
    port: int = 3868


@dataclass(frozen=True, slots=True)
class ChargingSettings:
    enabled: bool = False
    origin_host: str = "smsc.ims.example.net"
    origin_realm: str = "ims.example.net"
    destination_realm: str = "ocs.example.net"
    peers: tuple[ChargingPeer, ...] = (ChargingPeer("ocs.example.net", "127.0.0.1", 3868),)
    timeout_ms: int = 2000
    failure_handling: str = "continue"
    recipient_nesting: str = "rel11"
    sms_node: str = "ip-sm-gw"
    service_identifier: int | None = None
    rating_group: int | None = None
    watchdog_s: int = 30
    reconnect_s: int = 30
    vendor_id: int = 0
    product_name: str = "smsc"
    firmware_revision: int | None = None


@dataclass(frozen=True, slots=True)
class PsapRoute:
    name: str
    numbers: tuple[str, ...]
    url: str
    format: str = "json"
    mccs: tuple[str, ...] = ()
    """Serving MCCs this route is for; () = any."""
    timeout_ms: int = 2000
    """Per POST: connect, send and the PSAP's answer."""
    verify_tls: bool = True
    auth_header: str | None = None
    """One header line sent with every POST, e.g. "Authorization: Bearer x"."""


@dataclass(frozen=True, slots=True)
class AmlSettings:
    psaps: tuple[PsapRoute, ...] = (
        PsapRoute("default", ("112", "911", "999"), "http://127.0.0.1:18080/aml", "json"),
    )
    alert_after_s: float = 60.0
    retry_initial_ms: int = 200
    retry_max_ms: int = 30000


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    retry_initial_s: float = 30.0
    retry_max_s: float = 3600.0
    retry_factor: float = 2.0
    jitter: float = 0.2
    status_report_webhook: str | None = None
    status_report_validity_s: float = 86400.0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    listen: str = "127.0.0.1:8080"
    api_token: str | None = None


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "info"
    format: str = "text"
    summary_s: float = 10.0
    show_subscriber_data: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    sip: SipSettings = field(default_factory=SipSettings)
    smsc: SmscSettings = field(default_factory=SmscSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    charging: ChargingSettings = field(default_factory=ChargingSettings)
    aml: AmlSettings = field(default_factory=AmlSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


_SECTION_TYPES: dict[str, type[Any]] = {
    "sip": SipSettings,
    "smsc": SmscSettings,
    "storage": StorageSettings,
    "charging": ChargingSettings,
    "aml": AmlSettings,
    "http": HttpSettings,
    "delivery": DeliverySettings,
    "logging": LoggingSettings,
}


def _merge_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2:
            raise SettingsError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        section, key = parts
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise SettingsError(f"{section}: expected a mapping")
        raw[section][key] = yaml.safe_load(value)


def _tuple(key: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple):
        raise SettingsError(f"{key}: expected a list")
    return tuple(value)


def _section(name: str, values: Any) -> Any:
    cls = _SECTION_TYPES[name]
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise SettingsError(f"{name}: expected a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise SettingsError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{name}.{key}"
        if key == "peers":
            kwargs[key] = tuple(ChargingPeer(**_mapping(path, p)) for p in _tuple(path, value))
        elif key == "psaps":
            kwargs[key] = tuple(_psap(path, p) for p in _tuple(path, value))
        elif (
            key in ("listen", "trusted_peers", "home_plmns", "fill_rp_da_prefixes")
            and name != "http"
        ):
            kwargs[key] = tuple(str(v) for v in _tuple(path, value))
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _mapping(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"{key}: expected a mapping")
    return value


def _psap(key: str, value: Any) -> PsapRoute:
    entry = dict(_mapping(key, value))
    entry["numbers"] = tuple(str(n) for n in _tuple(f"{key}.numbers", entry.get("numbers", [])))
    if entry.get("mccs") is not None:
        entry["mccs"] = tuple(str(m) for m in _tuple(f"{key}.mccs", entry["mccs"]))
    else:
        entry.pop("mccs", None)
    try:
        return PsapRoute(**entry)
    except TypeError as exc:
        raise SettingsError(f"{key}: {exc}") from None


def _validate(settings: Settings) -> None:
    for peer in settings.sip.trusted_peers:
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            raise SettingsError(f"sip.trusted_peers: {peer!r} is not a network") from None
    if settings.smsc.pani_trust not in ("network-provided", "any"):
        raise SettingsError("smsc.pani_trust: expected network-provided or any")
    if settings.charging.failure_handling not in ("continue", "terminate"):
        raise SettingsError("charging.failure_handling: expected continue or terminate")
    _validate_aml(settings.aml)
    _validate_delivery(settings.delivery)
    host, _, port = settings.http.listen.rpartition(":")
    if not host or not port.isdigit():
        raise SettingsError("http.listen: expected HOST:PORT")


def _validate_aml(aml: AmlSettings) -> None:
    for route in aml.psaps:
        if route.format not in ("json", "etsi-https", "pidf-lo"):
            raise SettingsError(f"aml.psaps: format {route.format!r} is unknown")
        if not isinstance(route.timeout_ms, int) or route.timeout_ms <= 0:
            raise SettingsError(f"aml.psaps: {route.name}: timeout_ms must be a positive integer")
        if not isinstance(route.verify_tls, bool):
            raise SettingsError(f"aml.psaps: {route.name}: verify_tls must be true or false")
        if route.auth_header is not None:
            name, colon, value = str(route.auth_header).partition(":")
            if not colon or not name.strip() or not value.strip() or " " in name.strip():
                raise SettingsError(
                    f"aml.psaps: {route.name}: auth_header must be one 'Name: value' line"
                )
        for mcc in route.mccs:
            if len(mcc) != 3 or not mcc.isdigit():
                raise SettingsError(f"aml.psaps: {route.name}: mccs: {mcc!r} is not an MCC")
    if not isinstance(aml.alert_after_s, int | float) or aml.alert_after_s <= 0:
        raise SettingsError("aml.alert_after_s: expected a positive number of seconds")
    if not isinstance(aml.retry_initial_ms, int) or aml.retry_initial_ms <= 0:
        raise SettingsError("aml.retry_initial_ms: expected a positive integer")
    if not isinstance(aml.retry_max_ms, int) or aml.retry_max_ms < aml.retry_initial_ms:
        raise SettingsError("aml.retry_max_ms: expected an integer >= aml.retry_initial_ms")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _validate_delivery(delivery: DeliverySettings) -> None:
    if not _positive(delivery.retry_initial_s):
        raise SettingsError("delivery.retry_initial_s: expected a positive number of seconds")
    if not _positive(delivery.retry_max_s) or delivery.retry_max_s < delivery.retry_initial_s:
        raise SettingsError("delivery.retry_max_s: expected a number >= delivery.retry_initial_s")
    if not _positive(delivery.retry_factor) or delivery.retry_factor < 1:
        raise SettingsError("delivery.retry_factor: expected a number >= 1")
    jitter = delivery.jitter
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
        raise SettingsError("delivery.jitter: expected a number in [0, 1)")
    url = delivery.status_report_webhook
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise SettingsError("delivery.status_report_webhook: expected an http(s) URL or null")
    if not _positive(delivery.status_report_validity_s):
        raise SettingsError(
            "delivery.status_report_validity_s: expected a positive number of seconds"
        )


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Embedded defaults, overlaid by the YAML file at `path`, overlaid by the environment."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"{path}: {exc}") from None
        raw = dict(_mapping(str(path), loaded or {}))
    _merge_env(raw, os.environ if environ is None else environ)
    unknown = set(raw) - set(_SECTION_TYPES)
    if unknown:
        raise SettingsError(f"unknown section(s) {', '.join(sorted(unknown))}")
    settings = Settings(**{name: _section(name, raw.get(name)) for name in _SECTION_TYPES})
    _validate(settings)
    return settings
