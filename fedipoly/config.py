"""Configuration: a TOML file (read with tomllib) plus environment overrides, validated at start.

Every option lives in a frozen dataclass; `config.example.toml` documents each one. Problems are
reported as a single `ConfigError` naming the option, which the CLI prints as one line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "FEDIPOLY_"


class ConfigError(Exception):
    """A configuration problem; the message names the option."""


@dataclass(frozen=True)
class ServerConfig:
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    shutdown_timeout_seconds: float = 10.0
    document_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"server.public_url: {self.public_url!r} must be an absolute http(s) URL "
                "such as https://social.example"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigError(
                f"server.public_url: {self.public_url!r} must be scheme, host and optional port only"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError(f"server.public_url: {self.public_url!r} has a bad port") from None
        _check_port("server.port", self.port)
        if self.document_cache_seconds < 0:
            raise ConfigError("server.document_cache_seconds: must not be negative")

    @property
    def base_url(self) -> str:
        """The public URL without a trailing slash; every public URL and id starts with it."""
        return self.public_url.rstrip("/")

    @property
    def domain(self) -> str:
        """host[:port] as it appears in handles (`@alice@domain`) and in WebFinger."""
        return urlsplit(self.public_url).netloc.lower()

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")


@dataclass(frozen=True)
class StorageConfig:
    backend: str = "sqlite"
    sqlite_path: str = "data/fedipoly.sqlite3"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    mongodb_database: str = "fedipoly"
    connect_timeout_seconds: float = 5.0
    moderation_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.backend not in ("sqlite", "mongodb"):
            raise ConfigError(
                f"storage.backend: {self.backend!r} is not one of 'sqlite', 'mongodb'"
            )
        if not self.sqlite_path:
            raise ConfigError("storage.sqlite_path: must not be empty")
        if not self.mongodb_url.startswith(("mongodb://", "mongodb+srv://")):
            raise ConfigError(
                f"storage.mongodb_url: {self.mongodb_url!r} must start with mongodb:// "
                "or mongodb+srv://"
            )
        if not self.mongodb_database:
            raise ConfigError("storage.mongodb_database: must not be empty")
        if self.connect_timeout_seconds <= 0:
            raise ConfigError("storage.connect_timeout_seconds: must be positive")
        if self.moderation_cache_seconds < 0:
            raise ConfigError("storage.moderation_cache_seconds: must not be negative")


@dataclass(frozen=True)
class RegistrationConfig:
    mode: str = "invite"
    invites_per_member: int = 5
    invite_max_uses: int = 10

    def __post_init__(self) -> None:
        if self.mode not in ("invite", "open", "closed"):
            raise ConfigError(
                f"registration.mode: {self.mode!r} is not one of 'invite', 'open', 'closed'"
            )
        if self.invites_per_member < 0:
            raise ConfigError("registration.invites_per_member: must be 0 or more")
        if self.invite_max_uses < 1:
            raise ConfigError("registration.invite_max_uses: must be 1 or more")


@dataclass(frozen=True)
class FederationConfig:
    allowed_private_hosts: tuple[str, ...] = ()
    connect_timeout_seconds: float = 5.0
    total_timeout_seconds: float = 30.0
    max_response_bytes: int = 1024 * 1024
    max_inbox_bytes: int = 256 * 1024
    badge_peers: tuple[str, ...] = ()
    badge_announces_per_author_per_hour: int = 30
    badge_announces_per_badge_per_hour: int = 120
    badge_directory_refresh_seconds: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("badge_announces_per_author_per_hour", "badge_announces_per_badge_per_hour"):
            if getattr(self, name) < 0:
                raise ConfigError(f"federation.{name}: must be 0 or more")
        if self.badge_directory_refresh_seconds <= 0:
            raise ConfigError("federation.badge_directory_refresh_seconds: must be positive")
        for entry in self.allowed_private_hosts:
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ConfigError(f"federation.allowed_private_hosts: {entry!r} must be host:port")
            _check_port("federation.allowed_private_hosts", int(port))
        for name in ("connect_timeout_seconds", "total_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"federation.{name}: must be positive")
        for name in ("max_response_bytes", "max_inbox_bytes"):
            if getattr(self, name) < 1024:
                raise ConfigError(f"federation.{name}: must be at least 1024")


@dataclass(frozen=True)
class WorkersConfig:
    poll_interval_seconds: float = 1.0
    delivery_concurrency: int = 16
    # A claimed delivery or inbox item stays with its worker this long; if the worker dies,
    # another takes it over afterwards. Keep the delivery lease at least twice
    # federation.total_timeout_seconds, or a slow peer may get the same activity twice.
    delivery_lease_seconds: float = 120.0
    inbox_lease_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.poll_interval_seconds <= 0:
            raise ConfigError("workers.poll_interval_seconds: must be positive")
        for name in ("delivery_lease_seconds", "inbox_lease_seconds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"workers.{name}: must be at least 1")
        if self.delivery_concurrency < 1:
            raise ConfigError("workers.delivery_concurrency: must be 1 or more")


@dataclass(frozen=True)
class SecurityConfig:
    session_days: int = 30
    # Argon2id cost; the defaults follow argon2-cffi's RFC 9106 "low memory" profile.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    def __post_init__(self) -> None:
        if self.session_days < 1:
            raise ConfigError("security.session_days: must be 1 or more")
        if self.argon2_time_cost < 1:
            raise ConfigError("security.argon2_time_cost: must be 1 or more")
        if self.argon2_memory_kib < 8:
            raise ConfigError("security.argon2_memory_kib: must be 8 or more")


@dataclass(frozen=True)
class MediaConfig:
    directory: str = "data/media"
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    # An upload no post or profile uses is deleted (file and record) after this many hours.
    unattached_retention_hours: float = 24.0

    def __post_init__(self) -> None:
        if not self.directory:
            raise ConfigError("media.directory: must not be empty")
        if self.unattached_retention_hours <= 0:
            raise ConfigError("media.unattached_retention_hours: must be positive")
        if self.max_upload_bytes < 1024:
            raise ConfigError("media.max_upload_bytes: must be at least 1024")
        if self.max_pixels < 1:
            raise ConfigError("media.max_pixels: must be positive")


@dataclass(frozen=True)
class CollaborationConfig:
    # A member sends at most this many collaboration requests per rolling day; requests from
    # another server's member over the same limit are refused on arrival.
    requests_per_day: int = 20
    # Seconds before the Space Station re-reads a remote profile's actor document.
    remote_profile_refresh_seconds: float = 86400.0

    def __post_init__(self) -> None:
        if self.requests_per_day < 1:
            raise ConfigError("collaboration.requests_per_day: must be 1 or more")
        if self.remote_profile_refresh_seconds < 60:
            raise ConfigError("collaboration.remote_profile_refresh_seconds: must be at least 60")


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"

    def __post_init__(self) -> None:
        if self.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"logging.level: {self.level!r} is not one of DEBUG, INFO, WARNING, ERROR"
            )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    collaboration: CollaborationConfig = field(default_factory=CollaborationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


def _check_port(option: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option}: {port} is not a valid port")


def _section_types() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


class _EnvValue(str):
    """A value from an environment variable: text to convert, lists comma-separated."""


def _coerce(option: str, value: Any, annotation: Any) -> Any:
    """Check one value from the TOML file against the type its dataclass field declares."""
    if isinstance(value, _EnvValue):
        return _from_env(option, str(value), annotation)
    origin = typing.get_origin(annotation)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{option}: must be a list of strings")
        return tuple(value)
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation not in expected:
        raise ConfigError(f"{option}: unsupported option type")  # pragma: no cover
    if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
        raise ConfigError(f"{option}: must be {expected[annotation]}")
    return value


def _from_env(option: str, value: str, annotation: Any) -> Any:
    if typing.get_origin(annotation) is tuple:
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if annotation is bool:
        if value.lower() not in ("true", "false", "1", "0"):
            raise ConfigError(f"{option}: {value!r} is not true or false")
        return value.lower() in ("true", "1")
    if annotation is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{option}: {value!r} is not an integer") from None
    if annotation is float:
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{option}: {value!r} is not a number") from None
    return value


def _build_section(name: str, cls: type[Any], raw: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown option")
    values = {key: _coerce(f"{name}.{key}", value, hints[key]) for key, value in raw.items()}
    return cls(**values)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """`section.key` -> (variable, value) for every `FEDIPOLY_<SECTION>_<KEY>` variable."""
    sections = _section_types()
    overrides: dict[str, tuple[str, str]] = {}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        rest = variable[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # e.g. FEDIPOLY_CONFIG, which is not an option
        overrides[f"{section}.{rest[len(section) + 1 :]}"] = (variable, value)
    return overrides


def parse_config(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Build a validated Config from parsed TOML and `FEDIPOLY_<SECTION>_<KEY>` overrides."""
    sections = _section_types()
    for name, value in raw.items():
        if name not in sections:
            raise ConfigError(f"{name}: unknown section")
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: must be a table ([{name}])")
    merged: dict[str, dict[str, Any]] = {name: dict(raw.get(name, {})) for name in sections}
    overrides = _env_overrides(environ if environ is not None else {})
    for option, (_variable, value) in overrides.items():
        section, key = option.split(".", 1)
        merged[section][key] = _EnvValue(value)
    built: dict[str, Any] = {}
    for name, cls in sections.items():
        try:
            built[name] = _build_section(name, cls, merged[name])
        except ConfigError as error:
            # Name the variable too when the bad value came from the environment.
            option = str(error).split(":", 1)[0]
            if option in overrides:
                raise ConfigError(f"{error} (set by {overrides[option][0]})") from None
            raise
    return Config(**built)


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any) and apply environment overrides."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None:
        config_path = Path(path)
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"--config: file {str(config_path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"--config: {config_path} is not valid TOML ({error})") from None
    return parse_config(raw, env)


__all__ = [
    "Config",
    "ConfigError",
    "FederationConfig",
    "LoggingConfig",
    "MediaConfig",
    "RegistrationConfig",
    "SecurityConfig",
    "ServerConfig",
    "StorageConfig",
    "WorkersConfig",
    "load_config",
    "parse_config",
]
