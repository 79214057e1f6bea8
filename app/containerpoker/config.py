"""One configuration source for every front end.

Precedence, highest first: the process environment, a ``.env`` file in the working directory
(or ``CONTAINERPOKER_ENV_FILE``), a TOML file named by ``CONTAINERPOKER_CONFIG``, then the
defaults, each written once: in the field that declares it, below.

Environment keys are ``CONTAINERPOKER_<NAME>`` for platform settings and
``CONTAINERPOKER_<RUNTIME>_<FIELD>`` for a runtime, e.g. ``CONTAINERPOKER_NGINX_WARM=8`` or
``CONTAINERPOKER_PYTHON_PORTS=9200-9299``. The TOML file uses ``[platform]`` and
``[runtimes.<name>]`` tables with the same names in lower case. Every value is validated; a bad
one raises :class:`ConfigError` naming the key and what would be accepted. ``containerpoker
config show`` prints every setting with its effective value.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path

from dotenv import dotenv_values

from . import config_values as v
from .config_values import parse_size
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Ubuntu 22.04 ships Python 3.10
    import tomli as tomllib

PREFIX = "CONTAINERPOKER_"
SECRET_MIN = 32

#: Where the runtime images' Dockerfiles live when running from a checkout.
CHECKOUT_IMAGES_DIR = Path(__file__).resolve().parents[2] / "infrastructure" / "images"

# -- the settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeConfig:
    """One pool: which image, where it listens, how many stay warm, its limits.

    The defaults here are those of a runtime the platform does not know; the four it ships
    differ only where :data:`RUNTIME_DEFAULTS` says.
    """

    name: str
    ports: str = v.setting("", v.text, "host port range, like 8000-8099")
    warm: int = v.setting(2, v.int_range(0, 1000), "containers kept warm")
    max_containers: int = v.setting(8, v.int_range(1, 1000), "live containers at most", key="max")
    memory: str = v.setting("128m", v.text, "memory limit per container")
    cpus: float = v.setting(0.5, v.float_range(0.05, 64), "CPU limit per container")
    pids: int = v.setting(64, v.int_range(16, 4096), "process limit per container")
    image: str = v.setting("", v.text, "image (default containerpoker/<name>)")
    internal_port: int = v.setting(8080, v.int_range(1, 65535), "port the image serves on")
    content_dir: str = v.setting("/srv/www", v.text, "where uploads land")
    # Two clocks, as JupyterHub's idle culler keeps them: a container is released when its
    # owner has not used it for idle_timeout, or lifetime after it was claimed (or renewed),
    # whichever comes first. tmpnb's defaults: idle 1 h, at most 4 h; CTFd-whale renews 5 times.
    lifetime: float = v.setting(
        4 * 3600.0, v.duration(30 * 86400), "longest life of a claim (0: never)"
    )
    idle_timeout: float = v.setting(
        3600.0, v.duration(30 * 86400), "released after idle (0: never)"
    )
    renewals: int = v.setting(3, v.int_range(0, 100), "times an owner may renew the lifetime")

    @property
    def port_start(self) -> int:
        return int(self.ports.split("-")[0])

    @property
    def port_end(self) -> int:
        return int(self.ports.split("-")[1])

    @property
    def port_count(self) -> int:
        return self.port_end - self.port_start + 1

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory, f"{self.name}.memory")


#: The four runtimes the platform ships: only what differs from :class:`RuntimeConfig`.
RUNTIME_DEFAULTS: dict[str, dict[str, object]] = {
    "nginx": {"ports": "8000-8099", "warm": 5, "max_containers": 20, "memory": "64m"},
    "apache": {"ports": "8100-8199", "warm": 3, "max_containers": 12, "pids": 128},
    "python": {"ports": "8200-8299", "warm": 3, "max_containers": 12},
    "node": {"ports": "8300-8399", "warm": 2, "max_containers": 8, "memory": "192m"},
}


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "containerpoker"


@dataclass(frozen=True)
class Settings:
    """The platform's whole configuration, immutable once loaded."""

    runtimes: dict[str, RuntimeConfig]
    data_dir: Path = v.setting(_default_data_dir, v.path, "state: database, keys, logs")
    # Empty: sqlite:///<data_dir>/containerpoker.db (WAL, busy timeout).
    database_url: str = v.setting("", v.text, "SQLAlchemy URL (default: SQLite in data_dir)")
    instance: str = v.setting("default", v.name, "name of this platform on a shared engine")
    engine: str = v.setting(
        "docker", v.choice("docker", "swarm"), "engine backend: docker (one host) or swarm"
    )
    docker_host: str = v.setting("", v.text, "Docker API URL (default: DOCKER_HOST or the socket)")
    # The Swarm backend: nodes' engines over mutual TLS, images from a private registry.
    tls_dir: str = v.setting("", v.text, "folder of ca.pem, cert.pem, key.pem (Swarm)")
    node_port: int = v.setting(2376, v.int_range(1, 65535), "TLS port of each node's engine")
    registry: str = v.setting("", v.text, "registry nodes pull images from, like 10.0.0.2:5443")
    public_host: str = v.setting("localhost", v.text, "host name in users' container URLs")
    # CIS Docker Benchmark 5.14: ports bound to the interface users reach, not 0.0.0.0.
    bind_address: str = v.setting("", v.text, "address pool ports bind to (default: public_host's)")
    images_dir: Path = v.setting(CHECKOUT_IMAGES_DIR, v.path, "the runtime images' Dockerfiles")
    base_image: str = v.setting("debian:bookworm-slim", v.text, "base of the runtime images")
    warm_timeout: float = v.setting(60.0, v.float_range(5, 600), "s for a new container to serve")
    # Unhealthy after 3 failures in a row of the image's own health command.
    health_interval: float = v.setting(30.0, v.float_range(1, 3600), "s between health checks")
    warm_parallelism: int = v.setting(4, v.int_range(1, 32), "containers warmed at once")
    upload_max_bytes: int = v.setting(20 * 1024**2, v.size, "largest upload, unpacked")
    upload_max_entries: int = v.setting(500, v.int_range(1, 100_000), "most files in one upload")
    extra_labels: dict[str, str] = v.setting(dict, v.labels, "containerpoker.* labels for all")
    # The portal is reached at portal_host: its cookies belong to that name only, which must
    # differ from public_host, where users' containers are.
    portal_host: str = v.setting("127.0.0.1", v.text, "host name the portal is reached at")
    portal_port: int = v.setting(5000, v.int_range(1, 65535), "port the portal serves on")
    secret_key: str = v.setting("", v.text, "JWT signing key (empty: generated)", secret=True)
    token_minutes: int = v.setting(60, v.int_range(1, 7 * 24 * 60), "minutes a login lasts")
    cookie_secure: bool = v.setting(False, v.flag, "cookies over HTTPS only (behind TLS)")
    # Login throttling (portal/limits.py, LoginThrottle): a delay per account and address
    # that doubles from 1 s, never a lock-out; a ceiling per address sized for a classroom.
    login_free_failures: int = v.setting(
        5, v.int_range(1, 100), "failed logins per account and address before delays"
    )
    login_max_delay: float = v.setting(
        300.0, v.float_range(1, 3600), "s: longest wait between two tries of one account"
    )
    login_window: float = v.setting(
        900.0, v.float_range(60, 86400), "s: failures are forgotten after this long"
    )
    login_address_failures: int = v.setting(
        150, v.int_range(10, 100_000), "failed logins per address per login_window"
    )
    hash_threads: int = v.setting(
        0, v.int_range(0, 64), "threads hashing passwords (0: one per core)"
    )
    # Lifecycle
    max_per_user: int = v.setting(
        3, v.int_range(1, 100), "containers one user may hold, all runtimes"
    )
    monitor_interval: float = v.setting(60.0, v.duration(3600), "s between full recovery passes")
    portal_monitor: bool = v.setting(True, v.flag, "the portal runs the recovery monitor beside it")
    # What any portal user can start besides pool containers: terminals and lesson runs.
    max_terminals: int = v.setting(
        20, v.int_range(0, 1000), "browser terminals open at once, in all"
    )
    terminals_per_user: int = v.setting(
        2, v.int_range(0, 20), "browser terminals one user may open"
    )
    terminal_network: str = v.setting("none", v.text, "network of a terminal's container")
    max_lesson_runs: int = v.setting(2, v.int_range(1, 50), "lesson runs at once, in all")
    lesson_memory: str = v.setting("128m", v.text, "memory limit of a lesson's containers")
    lesson_cpus: float = v.setting(
        0.5, v.float_range(0.05, 8), "CPU limit of a lesson's containers"
    )
    lesson_pids: int = v.setting(
        128, v.int_range(16, 4096), "process limit of a lesson's containers"
    )
    lesson_lifetime: float = v.setting(
        900.0, v.duration(86400), "longest life of a lesson's objects"
    )
    # The challenges' learner engines (lessons/sandbox.py): a nested Docker engine per
    # learner needs SYS_ADMIN and NET_ADMIN, so it is off unless the operator turns it on.
    sandbox_enabled: bool = v.setting(
        False, v.flag, "learners' own Docker engines (see docs/lessons.md)"
    )
    sandbox_image: str = v.setting(
        "containerpoker/learner-engine", v.text, "image of a learner's Docker engine"
    )
    sandbox_memory: str = v.setting("512m", v.text, "memory of a learner's engine, all in it")
    sandbox_cpus: float = v.setting(1.0, v.float_range(0.1, 8), "CPUs of a learner's engine")
    sandbox_pids: int = v.setting(512, v.int_range(64, 8192), "processes in a learner's engine")
    sandbox_disk: str = v.setting("256m", v.text, "storage of a learner's engine (tmpfs size)")
    sandbox_warm: int = v.setting(0, v.int_range(0, 100), "learner engines kept started, ready")
    max_sandboxes: int = v.setting(20, v.int_range(0, 500), "learner engines at once, in all")
    sandbox_idle: float = v.setting(
        120.0, v.duration(86400), "s a learner's engine outlives its last open page"
    )
    sandbox_lifetime: float = v.setting(
        3600.0, v.duration(7 * 86400), "longest life of a learner's engine"
    )

    def runtime(self, name: str) -> RuntimeConfig:
        """The runtime called ``name``, or a clear error listing the known ones."""
        found = self.runtimes.get(name) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(sorted(self.runtimes))
            raise ConfigError(f"Unknown runtime {str(name)[:40]!r}: choose one of {known}.")
        return found

    def with_runtime(self, name: str, **changes: object) -> Settings:
        """A copy with some fields of one runtime changed (used by tests and benches)."""
        runtimes = dict(self.runtimes)
        runtimes[name] = replace(self.runtime(name), **changes)
        return replace(self, runtimes=runtimes)

    def publish_address(self) -> str:
        """The address pool ports bind to: ``bind_address``, or by default the address that
        ``public_host`` (the name in users' URLs) resolves to."""
        if self.bind_address:
            return self.bind_address
        try:
            found = socket.getaddrinfo(self.public_host, None, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            raise ConfigError(
                f"CONTAINERPOKER_PUBLIC_HOST={self.public_host!r} does not resolve, so the "
                "address pool ports bind to cannot be derived from it: set "
                "CONTAINERPOKER_BIND_ADDRESS (an address of this machine, or 0.0.0.0 for all)."
            ) from None
        return found[0][4][0]

    def shown(self) -> dict:
        """Every setting as ``config show`` prints it (the signing key masked)."""
        data: dict = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.metadata.get("secret"):
                value = "(set)" if value else "(generated in data_dir)"
            elif spec.name == "bind_address" and not value:
                try:
                    value = f"{self.publish_address()} (the address of {self.public_host})"
                except ConfigError as exc:
                    value = f"(none: {exc.message})"
            elif spec.name == "runtimes":
                value = {
                    n: {f.name: getattr(r, f.name) for f in fields(r)} for n, r in value.items()
                }
            data[spec.name] = str(value) if isinstance(value, Path) else value
        return data


# -- loading --------------------------------------------------------------------------------


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
            f"The config file {file} named by {PREFIX}CONFIG does not exist: create it or unset "
            "the variable."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {file} is not valid TOML: {exc}.") from None


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

    values: dict[str, object] = {}
    for spec in fields(Settings):
        if spec.name == "runtimes":
            continue
        found = src.get(spec.name)
        if spec.name == "docker_host" and found is None:
            found = env.get("DOCKER_HOST")
        if found is not None:
            values[spec.name] = spec.metadata["parse"](found, PREFIX + spec.name.upper())
    _check_secret(env, dotenv, values.get("secret_key"))
    data_dir = Path(values.get("data_dir") or _default_data_dir()).resolve()  # type: ignore[arg-type]
    values["data_dir"] = data_dir
    values["database_url"] = (
        values.get("database_url") or f"sqlite:///{data_dir / 'containerpoker.db'}"
    )

    names = src.get("runtimes")
    if names:
        wanted = [n.strip() for n in str(names).split(",") if n.strip()]
    else:
        wanted = list(RUNTIME_DEFAULTS) + [
            n for n in toml.get("runtimes", {}) if n not in RUNTIME_DEFAULTS
        ]
    if not wanted:
        raise ConfigError(f"{PREFIX}RUNTIMES is empty: name at least one runtime, like nginx.")
    runtimes = {name: _load_runtime(src, name) for name in wanted}
    _check_ranges_disjoint(runtimes)
    return Settings(runtimes=runtimes, **values)  # type: ignore[arg-type]


def _check_secret(env: Mapping[str, str], dotenv: Mapping[str, str | None], value) -> None:
    """The portal's signing key is refused when set but empty or short."""
    key = PREFIX + "SECRET_KEY"
    how = "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    for layer in (env, dotenv):
        if key in layer and not str(layer[key] or "").strip():
            raise ConfigError(
                f"{key} is set but empty: remove it (a strong key is then generated) or set "
                f"at least {SECRET_MIN} random characters, e.g. {how}."
            )
    if value is not None and len(value) < SECRET_MIN:
        raise ConfigError(
            f"{key} is {len(value)} characters long: a signing key needs at least {SECRET_MIN}. "
            f"Generate one with {how}."
        )


def _load_runtime(src: _Source, name: str) -> RuntimeConfig:
    if not v.NAME_RE.match(name):
        raise ConfigError(f"Runtime name {name!r} is not valid: use lower-case letters and digits.")
    key = f"{PREFIX}{name.upper()}_"
    defaults = RUNTIME_DEFAULTS.get(name, {})
    values: dict[str, object] = {}
    for spec in fields(RuntimeConfig):
        if spec.name == "name":
            continue
        env_name = spec.metadata.get("key", spec.name)
        found = src.get(env_name, name)
        default = defaults.get(spec.name, spec.default if spec.default is not MISSING else None)
        if found is None:
            values[spec.name] = default
        elif spec.name == "ports":
            values[spec.name] = v.port_range(found, key + "PORTS")
        else:
            values[spec.name] = spec.metadata["parse"](found, key + env_name.upper())
    if not values["ports"]:
        raise ConfigError(f"Runtime {name!r} has no ports: set {key}PORTS, like 9000-9099.")
    values["image"] = values["image"] or f"containerpoker/{name}"
    config = RuntimeConfig(name=name, **values)  # type: ignore[arg-type]
    if config.warm > config.max_containers:
        raise ConfigError(
            f"{key}WARM={config.warm} is larger than {key}MAX={config.max_containers}: "
            "raise the maximum."
        )
    if config.max_containers > config.port_count:
        raise ConfigError(
            f"{key}MAX={config.max_containers} is more than the {config.port_count} ports of "
            f"{key}PORTS={config.ports}: widen the range or lower the maximum."
        )
    if parse_size(config.memory, key + "MEMORY") < 16 * 1024**2:
        raise ConfigError(
            f"{key}MEMORY={config.memory} is below 16m: a runtime cannot start with less."
        )
    return config


def _check_ranges_disjoint(runtimes: dict[str, RuntimeConfig]) -> None:
    ordered = sorted(runtimes.values(), key=lambda r: r.port_start)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if second.port_start <= first.port_end:
            raise ConfigError(
                f"The port ranges of {first.name} ({first.ports}) and {second.name} "
                f"({second.ports}) overlap: give each runtime its own range."
            )
