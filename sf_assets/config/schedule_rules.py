"""Checks of the schedule's cron expression and IANA timezone (what Dagster's schedule accepts), Dagster-free."""

from __future__ import annotations

import re
import zoneinfo

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_ITEM = re.compile(r"^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(\d+))?$")


def cron_error(expression: str) -> str | None:
    """Why `expression` is not a valid 5-field cron (or @daily-style macro); None when it is."""
    text = expression.strip()
    if text.lower() in _MACROS:
        return None
    parts = text.split()
    if len(parts) != 5:
        return (
            f"cron '{expression}' must have 5 fields (minute hour day-of-month month day-of-week), it has {len(parts)}"
        )
    values: list[set[int] | None] = []
    for index, (part, (label, low, high)) in enumerate(zip(parts, _FIELDS)):
        found: set[int] | None = set()
        for item in part.split(","):
            match = _ITEM.match(item)
            if match is None:
                return f"cron '{expression}': {label} field '{part}' is not a number, range, list or */step"
            base, step = match.group(1), match.group(2)
            if step is not None and int(step) == 0:
                return f"cron '{expression}': {label} step must be at least 1"
            if base in ("*", "?") or (index == 2 and base.lower() == "l"):  # any / last day of the month
                found = None
                continue
            bounds = []
            for token in base.split("-"):
                number = _NAMES.get(index, {}).get(token.lower()) if not token.isdigit() else int(token)
                if number is None or not low <= number <= high:
                    return f"cron '{expression}': {label} value '{token}' is outside {low}-{high}"
                bounds.append(number)
            if found is not None:
                found.update(bounds)
        values.append(found)
    day, month = values[2], values[3]
    if month == {2} and day and min(day) >= 30:
        return f"cron '{expression}' names a day of February that never comes"
    return None


def timezone_error(name: str) -> str | None:
    """Why `name` is not an IANA timezone (e.g. 'Europe/Paris'); None when it is."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"timezone '{name}' is not an IANA timezone name such as 'UTC' or 'Europe/Paris'"
    return None
