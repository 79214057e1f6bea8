"""How a configuration value is read: whole numbers and numbers in a range, sizes, durations,
flags, names, labels, port ranges. Each parser takes the raw value and the key it came from,
and returns the value or raises :class:`ConfigError` naming the key and what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import field
from pathlib import Path

from .errors import ConfigError

Parse = Callable[[object, str], object]

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[iI]?[bB]?\s*$")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


# -- parsers: (raw value, key) -> value, or ConfigError naming the key ----------------------


def parse_size(text: str | int, key: str) -> int:
    """``"64m"`` → bytes; a clear error for anything else."""
    if isinstance(text, int):
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ConfigError(
            f"{key}={text!r} is not a size: write a number with an optional unit, like 64m or 1g."
        )
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


def int_range(low: int, high: int) -> Parse:
    def parse(value: object, key: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a whole number.") from None
        if not low <= number <= high:
            raise ConfigError(f"{key}={number} is out of range: use {low} to {high}.")
        return number

    return parse


def float_range(low: float, high: float) -> Parse:
    def parse(value: object, key: str) -> float:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a number.") from None
        if not low <= number <= high:
            raise ConfigError(f"{key}={number} is out of range: use {low} to {high}.")
        return number

    return parse


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def duration(high: float) -> Parse:
    """Seconds, or a number with s, m, h or d: ``90``, ``30m``, ``4h``; 0 means never."""

    def parse(value: object, key: str) -> float:
        match = _DURATION_RE.match(str(value).lower())
        if not match:
            raise ConfigError(
                f"{key}={value!r} is not a duration: write seconds or a number with s, m, h "
                "or d, like 90, 30m or 4h (0: never)."
            )
        seconds = (
            float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        )
        if seconds > high:
            raise ConfigError(f"{key}={value} is too long: at most {int(high)} s.")
        return seconds

    return parse


def text(value: object, key: str) -> str:
    return str(value).strip()


def flag(value: object, key: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}={value!r} is not a yes/no value: use 1 or 0.")


def choice(*allowed: str) -> Parse:
    def parse(value: object, key: str) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise ConfigError(f"{key}={value!r} is not one of {', '.join(allowed)}.")
        return text

    return parse


def name(value: object, key: str) -> str:
    text = str(value).strip()
    if not NAME_RE.match(text):
        raise ConfigError(
            f"{key}={text!r} is not a valid name: use lower-case letters, digits and dashes, "
            "starting with a letter."
        )
    return text


def path(value: object, key: str) -> Path:
    return Path(str(value)).expanduser()


def labels(value: object, key: str) -> dict[str, str]:
    labels = {}
    for pair in str(value or "").split(","):
        if pair.strip():
            name, _, text = pair.partition("=")
            if not name.strip().startswith("containerpoker."):
                raise ConfigError(
                    f"{key}: label {name.strip()!r} must start with 'containerpoker.'."
                )
            labels[name.strip()] = text.strip()
    return labels


def size(value: object, key: str) -> int:
    return parse_size(value, key)  # type: ignore[arg-type]


def setting(default, parse: Parse, help: str, **extra):
    """A configurable field: its default (written here only), parser and one-line help.

    ``key``: the name in the environment and TOML file, when it differs from the field's.
    """
    factory = {"default_factory": default} if callable(default) else {"default": default}
    return field(**factory, metadata={"parse": parse, "help": help, **extra})


def port_range(value: object, key: str) -> str:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", str(value))
    if not match:
        raise ConfigError(f"{key}={value!r} is not a port range: write it like 8000-8099.")
    start, end = int(match.group(1)), int(match.group(2))
    if not (1024 <= start <= end <= 65535):
        raise ConfigError(
            f"{key}={value} is not usable: ports must be 1024-65535 with start <= end."
        )
    return f"{start}-{end}"
