"""One configuration source for every front end.

Precedence, highest first: the process environment, a ``.env`` file in the
working directory (or ``CONTAINERPOKER_ENV_FILE``), a TOML file named by
``CONTAINERPOKER_CONFIG``, then the defaults below (those of DESIGN.md).

Environment keys are ``CONTAINERPOKER_<NAME>`` for platform settings and
``CONTAINERPOKER_<RUNTIME>_<FIELD>`` for a runtime, e.g.
``CONTAINERPOKER_NGINX_WARM=8`` or ``CONTAINERPOKER_PYTHON_PORTS=9200-9299``.
The TOML file uses ``[platform]`` and ``[runtimes.<name>]`` tables with the
same names in lower case.  Every value is validated; a bad one raises
:class:`ConfigError` naming the key and what would be accepted.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dotenv import dotenv_values

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Ubuntu 22.04 ships Python 3.10
    import tomli as tomllib

PREFIX = "CONTAINERPOKER_"

#: Where the runtime images' Dockerfiles live when running from a checkout.
_CHECKOUT_IMAGES_DIR = Path(__file__).resolve().parents[2] / "infrastructure" / "images"


@dataclass(frozen=True)
class RuntimeConfig:
    """One pool: which image, where it listens, how many stay warm, its limits."""

    name: str
    image: str
    internal_port: int
    port_start: int
    port_end: int
    warm: int
    max_containers: int
    memory: str
    cpus: float
    pids: int
    content_dir: str = "/srv/www"

    @property
    def port_count(self) -> int:
        return self.port_end - self.port_start + 1

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory, f"{self.name}.memory")


@dataclass(frozen=True)
class Settings:
    """The platform's whole configuration, immutable once loaded."""

    runtimes: dict[str, RuntimeConfig]
    data_dir: Path
    database_url: str
    instance: str = "default"
    public_host: str = "localhost"
    bind_address: str = "0.0.0.0"
    docker_host: str | None = None
    images_dir: Path = _CHECKOUT_IMAGES_DIR
    warm_timeout: float = 60.0
    # Seconds between Docker's health checks of a pool container (the image's
    # own command); unhealthy after 3 failures in a row.
    health_interval: float = 30.0
    warm_parallelism: int = 4
    upload_max_bytes: int = 20 * 1024 * 1024
    upload_max_entries: int = 500
    extra_labels: dict[str, str] = field(default_factory=dict)
    # The portal: where it is reached (its cookies belong to this host name
    # only, which must differ from public_host, where users' containers are).
    portal_host: str = "127.0.0.1"
    portal_port: int = 5000
    secret_key: str | None = field(default=None, repr=False)  # None: generated into data_dir
    token_minutes: int = 60

    def runtime(self, name: str) -> RuntimeConfig:
        """The runtime called ``name``, or a clear error listing the known ones."""
        try:
            return self.runtimes[name]
        except KeyError:
            known = ", ".join(sorted(self.runtimes))
            raise ConfigError(f"Unknown runtime {name!r}: choose one of {known}.") from None

    def with_runtime(self, name: str, **changes: object) -> Settings:
        """A copy with some fields of one runtime changed (used by tests and benches)."""
        runtimes = dict(self.runtimes)
        runtimes[name] = replace(self.runtime(name), **changes)
        return replace(self, runtimes=runtimes)


# name: (port range, warm, max, memory, cpus, pids)
_RUNTIME_DEFAULTS: dict[str, tuple[str, int, int, str, float, int]] = {
    "nginx": ("8000-8099", 5, 20, "64m", 0.5, 64),
    "apache": ("8100-8199", 3, 12, "128m", 0.5, 128),
    "python": ("8200-8299", 3, 12, "128m", 0.5, 64),
    "node": ("8300-8399", 2, 8, "192m", 0.5, 64),
}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[iI]?[bB]?\s*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


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


def _int(value: object, key: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key}={value!r} is not a whole number.") from None
    if not low <= number <= high:
        raise ConfigError(f"{key}={number} is out of range: use {low} to {high}.")
    return number


def _float(value: object, key: str, low: float, high: float) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key}={value!r} is not a number.") from None
    if not low <= number <= high:
        raise ConfigError(f"{key}={number} is out of range: use {low} to {high}.")
    return number


def _port_range(value: object, key: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", str(value))
    if not match:
        raise ConfigError(f"{key}={value!r} is not a port range: write it like 8000-8099.")
    start, end = int(match.group(1)), int(match.group(2))
    if not (1024 <= start <= end <= 65535):
        raise ConfigError(
            f"{key}={value} is not usable: ports must be 1024-65535 with start <= end."
        )
    return start, end


class _Source:
    """Looks keys up in the environment, then .env, then the TOML file."""

    def __init__(self, env: Mapping[str, str], dotenv: Mapping[str, str | None], toml: dict):
        self.env = env
        self.dotenv = dotenv
        self.toml = toml

    def get(self, name: str, runtime: str | None = None) -> object | None:
        env_key = PREFIX + (f"{runtime}_{name}" if runtime else name).upper().replace("-", "_")
        for layer in (self.env, self.dotenv):
            value = layer.get(env_key)
            if value not in (None, ""):
                return value
        table = (
            self.toml.get("runtimes", {}).get(runtime, {})
            if runtime
            else self.toml.get("platform", {})
        )
        return table.get(name.lower())


def _read_toml(path: str) -> dict:
    file = Path(path).expanduser()
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"The config file {file} named by {PREFIX}CONFIG does not exist: create it or unset the variable."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {file} is not valid TOML: {exc}.") from None


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "containerpoker"


def load_settings(
    env: Mapping[str, str] | None = None, env_file: str | Path | None = None
) -> Settings:
    """Read and validate the configuration (see the module docstring)."""
    env = dict(os.environ if env is None else env)
    env_path = Path(env_file or env.get(PREFIX + "ENV_FILE") or ".env")
    dotenv = dotenv_values(env_path) if env_path.is_file() else {}
    config_path = env.get(PREFIX + "CONFIG") or dotenv.get(PREFIX + "CONFIG")
    toml = _read_toml(config_path) if config_path else {}
    src = _Source(env, dotenv, toml)

    names = src.get("runtimes")
    if names:
        wanted = [n.strip() for n in str(names).split(",") if n.strip()]
    else:
        wanted = list(_RUNTIME_DEFAULTS) + [
            n for n in toml.get("runtimes", {}) if n not in _RUNTIME_DEFAULTS
        ]
    runtimes: dict[str, RuntimeConfig] = {}
    for name in wanted:
        runtimes[name] = _load_runtime(src, name)
    if not runtimes:
        raise ConfigError(f"{PREFIX}RUNTIMES is empty: name at least one runtime, like nginx.")
    _check_ranges_disjoint(runtimes)

    data_dir = Path(str(src.get("data_dir") or _default_data_dir())).expanduser().resolve()
    database_url = str(src.get("database_url") or f"sqlite:///{data_dir / 'containerpoker.db'}")
    instance = str(src.get("instance") or "default")
    if not _NAME_RE.match(instance):
        raise ConfigError(
            f"{PREFIX}INSTANCE={instance!r} is not a valid name: use lower-case letters, "
            "digits and dashes, starting with a letter."
        )
    labels = {}
    for pair in str(src.get("extra_labels") or "").split(","):
        if pair.strip():
            key, _, value = pair.partition("=")
            if not key.strip().startswith("containerpoker."):
                raise ConfigError(
                    f"{PREFIX}EXTRA_LABELS: label {key.strip()!r} must start with 'containerpoker.'."
                )
            labels[key.strip()] = value.strip()

    images_dir = Path(str(src.get("images_dir") or _CHECKOUT_IMAGES_DIR)).expanduser()
    return Settings(
        runtimes=runtimes,
        data_dir=data_dir,
        database_url=database_url,
        instance=instance,
        public_host=str(src.get("public_host") or "localhost"),
        bind_address=str(src.get("bind_address") or "0.0.0.0"),
        docker_host=str(src.get("docker_host") or env.get("DOCKER_HOST") or "") or None,
        images_dir=images_dir,
        warm_timeout=_float(src.get("warm_timeout") or 60, PREFIX + "WARM_TIMEOUT", 5, 600),
        health_interval=_float(
            src.get("health_interval") or 30, PREFIX + "HEALTH_INTERVAL", 1, 3600
        ),
        warm_parallelism=_int(src.get("warm_parallelism") or 4, PREFIX + "WARM_PARALLELISM", 1, 32),
        upload_max_bytes=parse_size(
            src.get("upload_max_bytes") or "20m", PREFIX + "UPLOAD_MAX_BYTES"
        ),
        upload_max_entries=_int(
            src.get("upload_max_entries") or 500, PREFIX + "UPLOAD_MAX_ENTRIES", 1, 100_000
        ),
        extra_labels=labels,
        portal_host=str(src.get("portal_host") or "127.0.0.1"),
        portal_port=_int(src.get("portal_port") or 5000, PREFIX + "PORTAL_PORT", 1, 65535),
        secret_key=_secret_key(env, dotenv, src),
        token_minutes=_int(
            src.get("token_minutes") or 60, PREFIX + "TOKEN_MINUTES", 1, 7 * 24 * 60
        ),
    )


SECRET_MIN = 32


def _secret_key(
    env: Mapping[str, str], dotenv: Mapping[str, str | None], src: _Source
) -> str | None:
    """The portal's signing key; refused when set but empty or short."""
    key = PREFIX + "SECRET_KEY"
    for layer in (env, dotenv):
        if key in layer and not str(layer[key] or "").strip():
            raise ConfigError(
                f"{key} is set but empty: remove it (a strong key is then generated) or set "
                f"at least {SECRET_MIN} random characters, e.g. `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`."
            )
    value = src.get("secret_key")
    if value is None:
        return None
    value = str(value).strip()
    if len(value) < SECRET_MIN:
        raise ConfigError(
            f"{key} is {len(value)} characters long: a signing key needs at least {SECRET_MIN}. "
            "Generate one with `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    return value


def _load_runtime(src: _Source, name: str) -> RuntimeConfig:
    if not _NAME_RE.match(name):
        raise ConfigError(f"Runtime name {name!r} is not valid: use lower-case letters and digits.")
    defaults = _RUNTIME_DEFAULTS.get(name)
    key = f"{PREFIX}{name.upper()}_"

    def value(field_name: str, default: object) -> object:
        found = src.get(field_name, name)
        if found is None:
            if default is None:
                raise ConfigError(
                    f"Runtime {name!r} has no {field_name}: set {key}{field_name.upper()}."
                )
            return default
        return found

    ports, warm, max_c, memory, cpus, pids = defaults or (None, 2, 8, "128m", 0.5, 64)
    start, end = _port_range(value("ports", ports), key + "PORTS")
    warm_n = _int(value("warm", warm), key + "WARM", 0, 1000)
    max_n = _int(value("max", max_c), key + "MAX", 1, 1000)
    if warm_n > max_n:
        raise ConfigError(f"{key}WARM={warm_n} is larger than {key}MAX={max_n}: raise the maximum.")
    if max_n > end - start + 1:
        raise ConfigError(
            f"{key}MAX={max_n} is more than the {end - start + 1} ports of {key}PORTS={start}-{end}: "
            "widen the range or lower the maximum."
        )
    mem = str(value("memory", memory))
    if parse_size(mem, key + "MEMORY") < 16 * 1024**2:
        raise ConfigError(f"{key}MEMORY={mem} is below 16m: a runtime cannot start with less.")
    return RuntimeConfig(
        name=name,
        image=str(value("image", f"containerpoker/{name}")),
        internal_port=_int(value("internal_port", 8080), key + "INTERNAL_PORT", 1, 65535),
        port_start=start,
        port_end=end,
        warm=warm_n,
        max_containers=max_n,
        memory=mem,
        cpus=_float(value("cpus", cpus), key + "CPUS", 0.05, 64),
        pids=_int(value("pids", pids), key + "PIDS", 16, 4096),
        content_dir=str(value("content_dir", "/srv/www")),
    )


def _check_ranges_disjoint(runtimes: dict[str, RuntimeConfig]) -> None:
    ordered = sorted(runtimes.values(), key=lambda r: r.port_start)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if second.port_start <= first.port_end:
            raise ConfigError(
                f"The port ranges of {first.name} ({first.port_start}-{first.port_end}) and "
                f"{second.name} ({second.port_start}-{second.port_end}) overlap: give each "
                "runtime its own range."
            )
