"""The one place that reads configuration: a typed model (pydantic), filled from the YAML file
and then from `SMSC__SECTION__KEY` environment variables (pydantic-settings).

Every key has a type with its range; all errors are reported at once, each naming its key.
Numbers in the YAML file are read as text and typed by the model, so `home_plmns: [00101]`
stays "00101"; environment values are typed by the model too (lists as JSON or a, b, c)."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, FilePath, TypeAdapter, ValidationError, create_model
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from pydantic_settings.sources.utils import parse_env_vars

from smsc.errors import SmscError
from smsc.settings_fields import (
    CountryCode,
    DatabaseUrl,
    DiameterIdentity,
    DigitsList,
    DigitsOrEmpty,
    HeaderLine,
    HostPort,
    HostPortList,
    HttpUrl,
    MccList,
    Msisdn,
    NetworkList,
    NonNegativeFloat,
    PlmnList,
    Port,
    PositiveFloat,
    PositiveInt,
    RedisUrl,
    RouteNumber,
    SipListenList,
    SipUriText,
    SmppPassword,
    SmppSourceList,
    SmppSystemId,
    Token,
    Unsigned32,
    UrlPrefixList,
    is_loopback,
    masked_url,
)

ENV_PREFIX = "SMSC__"

_STRICT = ConfigDict(extra="forbid")


class SettingsError(SmscError):
    """The configuration is invalid; one line per problem, each naming its key."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else problems
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True, slots=True, config=_STRICT)
class SipSettings:
    listen: SipListenList = ("udp:127.0.0.1:5060", "tcp:127.0.0.1:5060")
    psi: SipUriText = "sip:smsc@ims.mnc001.mcc001.3gppnetwork.org"
    next_hop: SipUriText | None = None
    trusted_peers: NetworkList = ("127.0.0.0/8", "::1/128")
    untrusted_response: Literal["403", "none"] = "403"
    via_host: Token | None = None
    t1_ms: PositiveInt = 500
    t2_ms: PositiveInt = 4000
    t4_ms: PositiveInt = 5000
    tcp_idle_s: PositiveFloat = 120.0
    tcp_max_connections: PositiveInt = 512
    tcp_max_per_source: PositiveInt = 32
    max_mo_in_flight: PositiveInt = 5000
    overload_retry_after_s: PositiveInt = 1
    overload_queue_kib: Annotated[int, Field(ge=0)] = 0
    dns_servers: HostPortList = ()
    """Name servers (HOST:PORT) for next hops given as host names; () = the system's."""
    dns_failover_s: PositiveFloat = 30.0
    """How long a next-hop target that failed (503, timeout, unreachable) is tried last."""
    workers: Literal["auto"] | Annotated[int, Field(ge=1, le=64)] = "auto"
    """Processes sharing the UDP port; "auto": one per core (one with charging on)."""


@dataclass(frozen=True, slots=True, config=_STRICT)
class SmscSettings:
    sc_address: Msisdn = "+491710760000"
    home_plmns: PlmnList = ("26201",)
    tr1m_s: PositiveFloat = 40.0
    fill_rp_da_prefixes: DigitsList = ()
    pani_trust: Literal["network-provided", "any"] = "network-provided"
    emergency_numbers_file: FilePath | None = None
    duplicate_window_s: NonNegativeFloat = 60.0


@dataclass(frozen=True, slots=True, config=_STRICT)
class StorageSettings:
    database_url: DatabaseUrl = "sqlite+aiosqlite:///var/smsc.db"
    redis_url: RedisUrl | None = None
    schema: Token | None = None
    redis_prefix: str = "smsc:"


@dataclass(frozen=True, slots=True, config=_STRICT)
class ChargingPeer:
    host: DiameterIdentity
    address: Token
    port: Port = 3868
    priority: Annotated[int, Field(ge=1, le=100)] = 1


@dataclass(frozen=True, slots=True, config=_STRICT)
class ChargingSettings:
    enabled: bool = False
    origin_host: DiameterIdentity = "smsc.ims.example.net"
    origin_realm: DiameterIdentity = "ims.example.net"
    destination_realm: DiameterIdentity = "ocs.example.net"
    peers: Annotated[tuple[ChargingPeer, ...], Field(min_length=1)] = (
        ChargingPeer("ocs.example.net", "127.0.0.1", 3868),
    )
    timeout_ms: PositiveInt = 2000
    failure_handling: Literal["continue", "terminate"] = "continue"
    recipient_nesting: Literal["rel11", "rel8"] = "rel11"
    sms_node: Literal["ip-sm-gw", "sms-sc", "sms-router", "sms-router-and-ip-sm-gw"] = "ip-sm-gw"
    service_identifier: Unsigned32 | None = None
    rating_group: Unsigned32 | None = None
    watchdog_s: PositiveInt = 30
    reconnect_s: PositiveInt = 30
    vendor_id: Unsigned32 = 0
    product_name: str = "smsc"
    firmware_revision: Unsigned32 | None = None
    replay_interval_s: PositiveInt = 30
    replay_batch: PositiveInt = 100
    replay_max_age_h: PositiveInt = 72


@dataclass(frozen=True, slots=True, config=_STRICT)
class PsapRoute:
    name: str
    numbers: DigitsList
    url: HttpUrl
    format: Literal["json", "etsi-https", "pidf-lo"] = "json"
    mccs: MccList = ()
    """Serving MCCs this route is for; () = any."""
    timeout_ms: PositiveInt = 2000
    """Per POST: connect, send and the PSAP's answer."""
    verify_tls: bool = True
    auth_header: HeaderLine | None = None
    """One header line sent with every POST, e.g. "Authorization: Bearer x"."""


@dataclass(frozen=True, slots=True, config=_STRICT)
class AmlIntakeSettings:
    listen: HostPort | None = None
    allowed_networks: NetworkList = ("127.0.0.0/8", "::1/128")
    rate_per_s: PositiveFloat = 1.0
    burst: PositiveInt = 5
    max_body: Annotated[int, Field(ge=256, le=65536)] = 16384


@dataclass(frozen=True, slots=True, config=_STRICT)
class AmlSettings:
    psaps: tuple[PsapRoute, ...] = (
        PsapRoute("default", ("112", "911", "999"), "http://127.0.0.1:18080/aml", "json"),
    )
    alert_after_s: PositiveFloat = 60.0
    retry_initial_ms: PositiveInt = 200
    retry_max_ms: PositiveInt = 30000
    intake: AmlIntakeSettings = field(default_factory=AmlIntakeSettings)

    def __post_init__(self) -> None:
        if self.retry_max_ms < self.retry_initial_ms:
            raise ValueError("retry_max_ms must be >= retry_initial_ms")


@dataclass(frozen=True, slots=True, config=_STRICT)
class DeliverySettings:
    retry_initial_s: PositiveFloat = 30.0
    retry_max_s: PositiveFloat = 3600.0
    retry_factor: Annotated[float, Field(ge=1)] = 2.0
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.2
    status_report_webhook: HttpUrl | None = None
    callback_url_allow: UrlPrefixList = ()
    """URL prefixes an API submission's callback_url must start with; () = none allowed."""
    status_report_validity_s: PositiveFloat = 86400.0
    max_in_flight: PositiveInt = 2000

    def __post_init__(self) -> None:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")


@dataclass(frozen=True, slots=True, config=_STRICT)
class NumberingSettings:
    country_code: CountryCode = "49"
    national_prefix: DigitsOrEmpty = "0"
    international_prefix: DigitsOrEmpty = "00"
    short_code_max_digits: Annotated[int, Field(ge=0, le=15)] = 6
    unknown_numbers: Literal["international", "national"] = "international"
    """What a type-unknown number without a prefix and longer than a short code is."""


@dataclass(frozen=True, slots=True, config=_STRICT)
class ApplicationRoute:
    name: Token
    numbers: Annotated[tuple[RouteNumber, ...], Field(min_length=1)]
    url: HttpUrl | None = None
    """POSTed as JSON; or `smpp`."""
    auth_header: HeaderLine | None = None
    timeout_ms: PositiveInt = 5000
    verify_tls: bool = True
    smpp: SmppSystemId | None = None
    """The SMPP account whose receiver sessions get these MO as deliver_sm; or `url`."""

    def __post_init__(self) -> None:
        if (self.url is None) == (self.smpp is None):
            raise ValueError(f"application {self.name}: set exactly one of url and smpp")


@dataclass(frozen=True, slots=True, config=_STRICT)
class RoutingSettings:
    numbering: NumberingSettings = field(default_factory=NumberingSettings)
    applications: tuple[ApplicationRoute, ...] = ()

    def __post_init__(self) -> None:
        names = [a.name for a in self.applications]
        if len(set(names)) != len(names):
            raise ValueError("applications: every application needs a name of its own")
        seen: dict[str, str] = {}
        for app in self.applications:
            for number in app.numbers:
                if number in seen:
                    raise ValueError(
                        f"applications: {number} is routed to both {seen[number]} and {app.name}"
                    )
                seen[number] = app.name


SmppBindType = Literal["tx", "rx", "trx"]


@dataclass(frozen=True, slots=True, config=_STRICT)
class SmppAccount:
    system_id: SmppSystemId
    password: SmppPassword
    bind_types: Annotated[tuple[SmppBindType, ...], Field(min_length=1)] = ("tx", "rx", "trx")
    max_rate: PositiveFloat | None = None
    """submit_sm (and data_sm) per second over all its sessions; None: no limit."""
    window: Annotated[int, Field(ge=1, le=1000)] = 64
    allowed_sources: SmppSourceList = ()
    allowed_networks: NetworkList = ()
    max_sessions: Annotated[int, Field(ge=1, le=1000)] = 8
    default_validity_s: PositiveInt | None = None
    default_priority: Annotated[int, Field(ge=0, le=3)] = 0

    def __post_init__(self) -> None:
        if set(self.bind_types) & {"tx", "trx"} and not self.allowed_sources:
            raise ValueError(
                f'account {self.system_id}: allowed_sources is needed to submit ("*" for any '
                "sender)"
            )


@dataclass(frozen=True, slots=True, config=_STRICT)
class SmppSettings:
    listen: HostPortList = ()
    tls_listen: HostPortList = ()
    tls_cert_file: FilePath | None = None
    tls_key_file: FilePath | None = None
    accounts: tuple[SmppAccount, ...] = ()
    session_init_s: PositiveFloat = 10.0
    enquire_link_s: PositiveFloat = 30.0
    inactivity_s: PositiveFloat = 300.0
    response_s: PositiveFloat = 10.0
    receipt_validity_h: PositiveInt = 72

    def __post_init__(self) -> None:
        names = [a.system_id for a in self.accounts]
        if len(set(names)) != len(names):
            raise ValueError("accounts: every account needs a system_id of its own")
        if self.tls_listen and (self.tls_cert_file is None or self.tls_key_file is None):
            raise ValueError("tls_listen needs tls_cert_file and tls_key_file")


@dataclass(frozen=True, slots=True, config=_STRICT)
class OutboxSettings:
    retry_initial_ms: PositiveInt = 1000
    retry_max_ms: PositiveInt = 300000
    max_in_flight: PositiveInt = 64
    alert_after_s: PositiveFloat = 600.0

    def __post_init__(self) -> None:
        if self.retry_max_ms < self.retry_initial_ms:
            raise ValueError("retry_max_ms must be >= retry_initial_ms")


@dataclass(frozen=True, slots=True, config=_STRICT)
class ApiToken:
    name: Token
    token: Token
    scope: Literal["read", "submit"] = "read"
    """read: GET only; submit: GET and POST (sending SMS)."""


@dataclass(frozen=True, slots=True, config=_STRICT)
class HttpSettings:
    listen: HostPort = "127.0.0.1:8080"
    api_token: Token | None = None
    tokens: tuple[ApiToken, ...] = ()

    def __post_init__(self) -> None:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("tokens: every token needs a name of its own")
        if self.api_token is None and not self.tokens and not is_loopback(self.listen):
            raise ValueError(
                f"listen {self.listen} is not loopback: set api_token or tokens, so that the "
                "API is not open to the network"
            )


@dataclass(frozen=True, slots=True, config=_STRICT)
class LoggingSettings:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    summary_s: NonNegativeFloat = 10.0
    show_subscriber_data: bool = False


@dataclass(frozen=True, slots=True, config=_STRICT)
class Settings:
    sip: SipSettings = field(default_factory=SipSettings)
    smsc: SmscSettings = field(default_factory=SmscSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    charging: ChargingSettings = field(default_factory=ChargingSettings)
    aml: AmlSettings = field(default_factory=AmlSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    smpp: SmppSettings = field(default_factory=SmppSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def __post_init__(self) -> None:
        accounts = {a.system_id: a for a in self.smpp.accounts}
        for app in self.routing.applications:
            if app.smpp is None:
                continue
            account = accounts.get(app.smpp)
            if account is None:
                raise ValueError(
                    f"routing.applications {app.name}: smpp {app.smpp} is not in smpp.accounts"
                )
            if not set(account.bind_types) & {"rx", "trx"}:
                raise ValueError(
                    f"routing.applications {app.name}: account {app.smpp} cannot bind as a "
                    "receiver (bind_types)"
                )


SECTIONS = tuple(f.name for f in dataclasses.fields(Settings))

_SETTINGS = TypeAdapter(Settings)


class _EnvironmentBase(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",
        case_sensitive=False,
        extra="forbid",
    )


_SECTION_FIELDS: dict[str, Any] = {
    name: (hint | None, None) for name, hint in typing.get_type_hints(Settings).items()
}
_Environment: type[BaseSettings] = create_model(  # the sections, as pydantic-settings sees them
    "SettingsFromEnvironment", __base__=_EnvironmentBase, **_SECTION_FIELDS
)


class _EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping (tests) or os.environ."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_Environment)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _TextNumbersLoader(yaml.SafeLoader):
    """YAML with numbers left as text: the model types them (MCC/MNC 00101 stays a string)."""


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_TextNumbersLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str) -> Any:
    """A configuration document, numbers as text."""
    return yaml.load(text, Loader=_TextNumbersLoader)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    problems = []
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) < 2 or not all(parts):
            problems.append(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        elif parts[0] not in SECTIONS:
            problems.append(f"{name}: unknown section {parts[0]!r}")
        elif value.lstrip().startswith(("[", "{")):
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(f"{name}: lists and mappings are written as JSON: {exc}")
    if problems:
        raise SettingsError(problems)
    try:
        return dict(_EnvironmentSource(environ)())
    except SourceError as exc:
        raise SettingsError([f"environment: {exc}"]) from None


def _key(location: tuple[int | str, ...]) -> str:
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union")):
            key += f".{part}" if key else str(part)
    return key or "configuration"


SECRET_KEYS = frozenset({"api_token", "auth_header", "password", "token"})
"""Keys whose values are never printed: in errors, in `smsc config check`, in the log."""

_UNKNOWN = frozenset({"extra_forbidden", "unexpected_keyword_argument"})


def _problems(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        key = _key(item["loc"])
        if item["type"] in _UNKNOWN:
            lines.append(f"{key}: unknown key")
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        shown = item["type"] != "value_error" and isinstance(value, str | int | float)
        if shown and key.rpartition(".")[2] not in SECRET_KEYS:
            message += f" (got {value!r})"
        lines.append(f"{key}: {message}")
    return lines


def settings_from(raw: Mapping[str, Any]) -> Settings:
    """The model from plain data (YAML merged with the environment); SettingsError if invalid."""
    problems = [f"{name}: unknown section" for name in sorted(set(raw) - set(SECTIONS))]
    known = {name: value for name, value in raw.items() if name in SECTIONS}
    try:
        settings = _SETTINGS.validate_python(known)
    except ValidationError as exc:
        problems += _problems(exc)
    if problems:
        raise SettingsError(problems)
    return settings


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Embedded defaults, overlaid by the YAML file at `path`, overlaid by the environment."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = read_yaml(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError([f"{path}: {exc.strerror or exc}"]) from None
        except yaml.YAMLError as exc:
            raise SettingsError([f"{path}: not valid YAML: {_one_line(exc)}"]) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SettingsError([f"{path}: expected a mapping of sections"])
        raw = dict(loaded or {})
    env = _environment(os.environ if environ is None else environ)
    return settings_from(_merge(raw, env))


def _one_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def _plain(value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item, key) for item in value]
    if isinstance(value, Path):
        return str(value)
    if value is not None and key in SECRET_KEYS:
        return "***"
    if isinstance(value, str) and key.endswith("_url"):
        return masked_url(value)
    return value


def effective_configuration(settings: Settings) -> dict[str, Any]:
    """The settings as plain data for `smsc config check`, secrets and passwords masked."""
    document: dict[str, Any] = _plain(settings, "")
    return document
