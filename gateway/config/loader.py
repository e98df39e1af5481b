"""Loading the settings tree: defaults, then the TOML file, then the environment, then overrides.

Environment variables map onto the tree as ``GATEWAY_<KEY>`` for top-level keys and
``GATEWAY_<SECTION>_<KEY>`` for keys of a section, e.g. ``GATEWAY_HTTP_PORT`` or
``GATEWAY_OUTBOUND_RETRY_INITIAL``. Environment wins over the file, the file over defaults.
Values are coerced to each field's type (:mod:`gateway.config.settings`); an unknown key or a
value of the wrong type is a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config.settings import Settings

ENV_PREFIX = "GATEWAY_"


class ConfigError(ValueError):
    """A setting is missing, unknown or has the wrong type; the message names it."""


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from defaults, then the TOML file, then the environment, then overrides.

    ``path`` falls back to ``GATEWAY_CONFIG``. ``overrides`` uses the same nested shape as the
    TOML file (handy for tests and CLI flags).
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    path = path or env.get(ENV_PREFIX + "CONFIG") or None
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    _merge(raw, _from_env(env))
    if overrides:
        _merge(raw, dict(overrides))
    return _build(Settings, raw, "")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _sections() -> dict[str, type]:
    return {name: tp for name, tp in _fields(Settings).items() if dataclasses.is_dataclass(tp)}


def _fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type (annotations are strings under ``from __future__``)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``GATEWAY_*`` variables into the nested TOML shape (strings, typed later)."""
    sections = _sections()
    top = set(_fields(Settings)) - set(sections) - {"routes", "folders"}
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in top:
            out[key] = value
            continue
        for section, cls in sections.items():
            prefix = section + "_"
            if key.startswith(prefix):
                sub = key[len(prefix) :]
                if sub in {f.name for f in dataclasses.fields(cls)}:
                    out.setdefault(section, {})[sub] = value
                break
    return out


def _build(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{where or 'top'}] must be a table")
    known = _fields(cls)
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{where or 'top'}]: {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in raw.items():
        kwargs[name] = _coerce(known[name], value, f"{where}.{name}" if where else name)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list")
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(args[0], value, where)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(
                f"{where} must be one of {', '.join(map(repr, choices))}, not {value!r}"
            )
        return value
    try:
        if tp is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                return low in {"1", "true", "yes", "on"}
            return bool(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is Path:
            return Path(value)
        if tp is str:
            return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use {value!r} as {tp.__name__}") from exc
    return value
