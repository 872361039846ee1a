"""Configuration: defaults, validation naming the option, environment overrides."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from fedipoly.config import Config, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults_need_no_file_and_no_environment() -> None:
    config = load_config(None, {})
    assert config == Config()
    assert config.server.public_url == "http://127.0.0.1:8000"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8000)
    assert config.server.base_url == "http://127.0.0.1:8000"
    assert config.server.domain == "127.0.0.1:8000"
    assert not config.server.is_https
    assert config.storage.backend == "sqlite"
    assert config.storage.sqlite_path == "data/fedipoly.sqlite3"
    assert config.storage.mongodb_url.startswith("mongodb://")
    assert config.registration.mode == "invite"
    assert config.federation.allowed_private_hosts == ()


def test_a_file_sets_options_and_keeps_defaults_for_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "fedipoly.toml"
    path.write_text(
        '[server]\npublic_url = "https://Social.Example/"\nport = 9000\n'
        '[registration]\nmode = "open"\n'
        '[federation]\nallowed_private_hosts = ["127.0.0.1:8001"]\n'
    )
    config = load_config(path, {})
    assert config.server.port == 9000 and config.server.host == "127.0.0.1"
    assert config.server.base_url == "https://Social.Example"
    assert config.server.domain == "social.example"
    assert config.server.is_https
    assert config.registration.mode == "open"
    assert config.federation.allowed_private_hosts == ("127.0.0.1:8001",)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"server": {"prot": 8000}}, "server.prot: unknown option"),
        ({"storage": {"sqlite": "x"}}, "storage.sqlite: unknown option"),
        ({"serverr": {"port": 1}}, "serverr: unknown section"),
        ({"server": 5}, "server: must be a table"),
    ],
)
def test_unknown_sections_and_keys_are_named(raw: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(named)}"):
        parse_config(raw, {})


@pytest.mark.parametrize(
    "url",
    [
        "social.example",
        "ftp://social.example",
        "https://",
        "https://social.example/path",
        "https://social.example/?q=1",
        "https://user@social.example",
        "https://social.example:99999",
        "https://social.example:port",
    ],
)
def test_a_malformed_public_url_is_named(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^server\.public_url: "):
        parse_config({"server": {"public_url": url}}, {})


@pytest.mark.parametrize(
    ("raw", "option"),
    [
        ({"storage": {"backend": "postgres"}}, "storage.backend"),
        ({"storage": {"mongodb_url": "http://db"}}, "storage.mongodb_url"),
        ({"storage": {"connect_timeout_seconds": 0}}, "storage.connect_timeout_seconds"),
        ({"registration": {"mode": "public"}}, "registration.mode"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": True}}, "server.port"),
        (
            {"federation": {"allowed_private_hosts": ["localhost"]}},
            "federation.allowed_private_hosts",
        ),
        ({"federation": {"allowed_private_hosts": "a:1"}}, "federation.allowed_private_hosts"),
        ({"security": {"argon2_memory_kib": 1}}, "security.argon2_memory_kib"),
        ({"media": {"unattached_retention_hours": 0}}, "media.unattached_retention_hours"),
        ({"logging": {"level": "LOUD"}}, "logging.level"),
    ],
)
def test_bad_values_are_named(raw: dict, option: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(option)}: "):
        parse_config(raw, {})


def test_environment_variables_override_single_options(tmp_path: Path) -> None:
    path = tmp_path / "fedipoly.toml"
    path.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n')
    config = load_config(
        path,
        {
            "FEDIPOLY_SERVER_PORT": "9100",
            "FEDIPOLY_REGISTRATION_MODE": "closed",
            "FEDIPOLY_STORAGE_CONNECT_TIMEOUT_SECONDS": "0.5",
            "FEDIPOLY_FEDERATION_ALLOWED_PRIVATE_HOSTS": "a:1,b:2",
            "FEDIPOLY_CONFIG": "ignored: it is not an option",
            "OTHER_SERVER_PORT": "1",
        },
    )
    assert config.server.port == 9100
    assert config.server.host == "0.0.0.0"  # from the file, not overridden
    assert config.registration.mode == "closed"
    assert config.storage.connect_timeout_seconds == 0.5
    assert config.federation.allowed_private_hosts == ("a:1", "b:2")


def test_an_empty_list_variable_clears_the_list() -> None:
    config = parse_config(
        {"federation": {"allowed_private_hosts": ["a:1"]}},
        {"FEDIPOLY_FEDERATION_ALLOWED_PRIVATE_HOSTS": ""},
    )
    assert config.federation.allowed_private_hosts == ()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FEDIPOLY_SERVER_PORT": "eighty"}, "server.port: 'eighty' is not an integer"),
        ({"FEDIPOLY_REGISTRATION_MODE": "public"}, "registration.mode: "),
        ({"FEDIPOLY_SERVER_PROT": "1"}, "server.prot: unknown option"),
        (
            {"FEDIPOLY_FEDERATION_ALLOWED_PRIVATE_HOSTS": "a:1,b"},
            "federation.allowed_private_hosts",
        ),
    ],
)
def test_a_bad_environment_value_names_the_option_and_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({}, environ)
    text = str(raised.value)
    assert text.startswith(message)
    assert f"(set by {next(iter(environ))})" in text
    assert "\n" not in text


def test_a_missing_or_invalid_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, {})


def test_config_example_documents_every_option_with_its_default() -> None:
    """config.example.toml sets every option to its default, each with a comment above it."""
    path = REPO / "config.example.toml"
    text = path.read_text()
    raw = tomllib.loads(text)
    assert load_config(path, {}) == Config()
    lines = text.splitlines()
    for section in dataclasses.fields(Config):
        assert section.name in raw, f"[{section.name}] is missing"
        options = [option.name for option in dataclasses.fields(getattr(Config(), section.name))]
        assert sorted(raw[section.name]) == sorted(options), section.name
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[number - 1].startswith("#"), f"no comment above {line!r}"
