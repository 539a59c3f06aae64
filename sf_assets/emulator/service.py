"""Service profiles: how far away the emulated org answers (round trips, connection set-up, bandwidth, job time)."""
from __future__ import annotations

import dataclasses
import io
import socket
import time
from dataclasses import dataclass
from typing import Any

PIECE = 16_384  # bytes paced at a time: one TLS record
CATCH_UP_S = 0.005  # how late a paced piece may leave and still be caught up by the next ones


@dataclass(frozen=True)
class ServiceProfile:
    """A far-away org's service, in numbers (0 = not modelled: answers at CPU speed, as ``local``)."""

    name: str = "local"
    rtt_ms: float = 0.0  # paid by every request before its answer
    handshake_rtts: float = 0.0  # extra round trips paid once per new TCP connection (TLS handshake)
    conn_bytes_per_s: float = 0.0  # bytes on the wire per connection and second (after gzip)
    job_rows_per_s: float = 0.0  # a Bulk query job's processing speed, in rows it selects
    job_min_s: float = 0.0  # a Bulk query job's shortest processing time

    @property
    def is_local(self) -> bool:
        """True when nothing is modelled: the emulator answers exactly as it always did."""
        return not any(getattr(self, name) for name in PARAMETERS)

    @property
    def timed_jobs(self) -> bool:
        """True when a job completes by wall-clock time, not at its second poll."""
        return self.job_rows_per_s > 0 or self.job_min_s > 0

    def processing_s(self, rows: int) -> float:
        """Modelled processing time of a Bulk query job selecting ``rows`` rows."""
        return max(self.job_min_s, rows / self.job_rows_per_s if self.job_rows_per_s > 0 else 0.0)

    def describe(self) -> str:
        """``wan (rtt_ms=80, ...)``: the profile and its parameters, one line."""
        values = ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in dataclasses.fields(self)[1:])
        return f"{self.name} ({values})"


PROFILES = {
    "local": ServiceProfile(),
    "wan": ServiceProfile("wan", rtt_ms=80, handshake_rtts=2, conn_bytes_per_s=8_000_000, job_rows_per_s=100_000,
                          job_min_s=2),
    "slow": ServiceProfile("slow", rtt_ms=200, handshake_rtts=2, conn_bytes_per_s=2_000_000, job_rows_per_s=20_000,
                           job_min_s=5),
}
PARAMETERS = tuple(f.name for f in dataclasses.fields(ServiceProfile)[1:])


def service_profile(name: str = "local", overrides: str = "") -> ServiceProfile:
    """Profile ``name`` with ``overrides`` (``"rtt_ms=80,conn_bytes_per_s=500000"``) applied; ValueError naming
    the bad item otherwise."""
    if name not in PROFILES:
        raise ValueError(f"service profile {name!r}: expected one of {', '.join(PROFILES)}")
    changes: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in overrides.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or key not in PARAMETERS:
            raise ValueError(f"service {item!r}: expected NAME=number with NAME one of {', '.join(PARAMETERS)}")
        try:
            changes[key] = float(value)
        except ValueError:
            raise ValueError(f"service {item!r}: {value!r} is not a number") from None
        if not changes[key] >= 0:  # NaN too
            raise ValueError(f"service {item!r}: must be a number >= 0")
    return dataclasses.replace(PROFILES[name], **changes) if changes else PROFILES[name]


def pause(ms: float) -> None:
    """Sleep ``ms`` milliseconds (nothing for 0)."""
    if ms > 0:
        time.sleep(ms / 1000)


class PacedWriter(io.BufferedIOBase):
    """A connection's writer that hands bytes to the socket no faster than ``bytes_per_s``: each piece leaves
    when the previous ones would have been transmitted (idle time earns ``CATCH_UP_S`` of credit, no more: enough
    to catch up a late wake-up from sleep, not a burst)."""

    def __init__(self, sock: socket.socket, bytes_per_s: float) -> None:
        self._sock = sock
        self._rate = bytes_per_s
        self._free_at = time.monotonic()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        for start in range(0, len(view), PIECE):
            piece = view[start:start + PIECE]
            self._free_at = max(time.monotonic() - CATCH_UP_S, self._free_at) + len(piece) / self._rate
            delay = self._free_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._sock.sendall(piece)
        return len(view)

    def fileno(self) -> int:
        return self._sock.fileno()
