"""Helpers any backend may share: reading Docker's stats and times, probing HTTP."""

from __future__ import annotations

import http.client
from datetime import datetime


def http_answers(host: str, port: int, path: str = "/") -> bool:
    """True when something answers HTTP below 500 at ``host:port``."""
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def usage_from_stats(raw: dict) -> dict:
    """CPU % and memory from one ``docker stats`` sample (memory None when Docker gave none)."""
    cpu, pre = raw.get("cpu_stats", {}), raw.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    percent = (
        (cpu_delta / system_delta) * cpus * 100 if system_delta > 0 and cpu_delta >= 0 else 0.0
    )
    memory = raw.get("memory_stats", {})
    used = memory.get("usage")
    cache = (memory.get("stats") or {}).get("inactive_file", 0)
    return {
        "cpu_percent": round(percent, 2),
        "memory_bytes": None if used is None else max(0, used - cache),
        "memory_limit": memory.get("limit"),
    }


def parse_docker_time(stamp: str) -> float | None:
    """Docker's RFC 3339 times with nanoseconds → epoch seconds."""
    if not stamp or stamp.startswith("0001-"):
        return None
    text = stamp.rstrip("Z")
    main, _, frac = text.partition(".")
    try:
        base = datetime.fromisoformat(main + "+00:00").timestamp()
    except ValueError:
        return None
    return base + (float("0." + frac[:9]) if frac else 0.0)


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
