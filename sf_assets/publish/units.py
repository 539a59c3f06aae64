"""Human-readable sizes, durations and rates for log lines (decimal units: 1 MB = 10^6 bytes)."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(n: float) -> str:
    """'512 B', '8.4 MB', '4.2 GB'."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    """'68 s', '0.4 s'."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def mb_per_s(n_bytes: int, seconds: float) -> float:
    """Throughput in MB/s (0 for an instantaneous copy)."""
    return n_bytes / 1e6 / seconds if seconds > 0 else 0.0


def human_rate(n_bytes: int, seconds: float) -> str:
    """'63 MB/s', '4.5 MB/s'."""
    rate = mb_per_s(n_bytes, seconds)
    return f"{rate:.0f} MB/s" if rate >= 10 else f"{rate:.1f} MB/s"
