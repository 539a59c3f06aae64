"""The Power Query M of each dataset, and the rule that picks the share copy it reads (docs/POWERBI.md).

Two flavours read the same typed table. In the output folder the M opens the stable file
``<dataset>\\<dataset>.parquet``. In the share, which holds one copy per refresh
(``<dataset>__<UTC stamp>__<refresh id>.parquet``, ``publish/naming.py``) and a ``<copy>__READY`` marker
beside each complete one, the M lists the folder and reads the newest copy that has its marker.

There is no M engine here, so the share rule exists twice from the same constants: `newest_ready_copy`
(Python, tested on real files) and `share_query`'s M text, generated below from those constants.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa

from sf_assets.powerbi.m_types import is_utc_timestamp, m_type
from sf_assets.publish.naming import READY_SUFFIX, utc_stamp
from sf_assets.storage.output import consolidated_name

Place = Literal["output", "share"]
PARAMETER = "FolderPath"
SEPARATOR = "__"           # between dataset, stamp and refresh id in a published name
SUFFIX = ".parquet"
_SAMPLE_STAMP = utc_stamp(datetime(2000, 1, 1, tzinfo=UTC))
STAMP_LENGTH = len(_SAMPLE_STAMP)                                      # 16: 20250131T020304Z
STAMP_LETTERS = {i: c for i, c in enumerate(_SAMPLE_STAMP) if not c.isdigit()}  # {8: "T", 15: "Z"}
STAMP_DIGITS = STAMP_LENGTH - len(STAMP_LETTERS)


def _is_stamp(text: str) -> bool:
    return (len(text) == STAMP_LENGTH and all(text[i] == c for i, c in STAMP_LETTERS.items())
            and sum(ch.isdigit() for ch in text) == STAMP_DIGITS)


def copy_stamp(name: str, dataset: str) -> str | None:
    """The UTC stamp of `name` when it is a published copy of `dataset`, else None."""
    prefix = dataset + SEPARATOR
    if not (name.startswith(prefix) and name.endswith(SUFFIX)):
        return None
    stamp = name[len(prefix):len(prefix) + STAMP_LENGTH]
    after = name[len(prefix) + STAMP_LENGTH:len(prefix) + STAMP_LENGTH + len(SEPARATOR)]
    return stamp if _is_stamp(stamp) and after == SEPARATOR else None


def newest_ready_copy(names: Iterable[str], dataset: str) -> str | None:
    """The copy of `dataset` among `names` (one folder's entries) that the share's M reads: the newest stamp
    (then the greatest name) among the copies whose READY marker is listed too; None when there is none."""
    listed = set(names)
    ready = [(stamp, name) for name in listed
             if (stamp := copy_stamp(name, dataset)) is not None and name + READY_SUFFIX in listed]
    return max(ready)[1] if ready else None


def m_text(value: str) -> str:
    """`value` as an M text literal (quotes doubled; `#(` escaped, since it opens an escape sequence)."""
    return '"' + value.replace("#(", "#(#)(").replace('"', '""') + '"'


def parameter_query(folder: str) -> str:
    """The `FolderPath` parameter query (Home > Manage Parameters shows it), defaulting to `folder`."""
    return (f"// The parameter {PARAMETER} of the sf_assets queries: a blank query named {PARAMETER} with this text\n"
            f"// (or Home > Manage Parameters > New Parameter: name {PARAMETER}, type Text, this value).\n"
            f"{m_text(folder)} meta [IsParameterQuery = true, Type = \"Text\", IsParameterQueryRequired = true]\n")


def dataset_query(dataset: str, schema: pa.Schema, place: Place) -> str:
    """The M query of `dataset` in `place`: its file read, every column's type set explicitly."""
    source = _share_source(dataset) if place == "share" else _output_source(dataset)
    where = ("the newest copy with its __READY marker in the share" if place == "share"
             else f"{dataset}\\{consolidated_name(dataset)} in the output folder")
    header = (f"// sf_assets: dataset {dataset}, read from {where}.\n"
              f"// Needs the text parameter {PARAMETER} (FolderPath.parameter.pq). Rewritten at every refresh.\n")
    utc = [f for f in schema if is_utc_timestamp(f)]
    steps = [*source, _utc_step(utc, "Source") if utc else None,
             _types_step(schema, "Utc" if utc else "Source")]
    return header + "let\n" + ",\n".join(s for s in steps if s) + "\nin\n    Typed\n"


def _output_source(dataset: str) -> list[str]:
    relative = f"\\{dataset}\\{consolidated_name(dataset)}"
    return [f'    Folder = Text.TrimEnd({PARAMETER}, {{"\\", "/"}})',
            f"    Source = Parquet.Document(File.Contents(Folder & {m_text(relative)}))"]


def _share_source(dataset: str) -> list[str]:
    """The M twin of `newest_ready_copy`, from the same constants."""
    letters = " and ".join(f"Text.At(s, {i}) = {m_text(c)}" for i, c in sorted(STAMP_LETTERS.items()))
    stamp = f"Text.Middle([Name], Text.Length(Prefix), {STAMP_LENGTH})"
    after = f"Text.Middle([Name], Text.Length(Prefix) + {STAMP_LENGTH}, {len(SEPARATOR)})"
    missing = m_text(f"no copy of {dataset} with its {READY_SUFFIX} marker in ")
    return [
        f"    Prefix = {m_text(dataset + SEPARATOR)}",
        f"    IsStamp = (s as text) => Text.Length(s) = {STAMP_LENGTH} and {letters}"
        f' and Text.Length(Text.Select(s, {{"0".."9"}})) = {STAMP_DIGITS}',
        f"    Files = Folder.Contents({PARAMETER})",
        "    Names = List.Buffer(Files[Name])",
        f"    Copies = Table.SelectRows(Files, each Text.StartsWith([Name], Prefix)"
        f" and Text.EndsWith([Name], {m_text(SUFFIX)})\n"
        f"        and IsStamp({stamp}) and {after} = {m_text(SEPARATOR)}\n"
        f"        and List.Contains(Names, [Name] & {m_text(READY_SUFFIX)}))",
        f'    Stamped = Table.AddColumn(Copies, "Stamp", each {stamp})',
        '    Newest = Table.First(Table.Sort(Stamped, {{"Stamp", Order.Descending}, {"Name", Order.Descending}}))',
        f"    Source = if Newest = null then error ({missing} & {PARAMETER}) else Parquet.Document(Newest[Content])",
    ]


def _utc_step(columns: list[pa.Field], previous: str) -> str:
    """UTC timestamps as datetimezone at +00:00 whether the reader gives datetime or datetimezone (never the
    local zone, which converting a datetime with DateTimeZone.From would add)."""
    fixes = ",\n".join(f"        {{{m_text(f.name)}, ToUtc, type datetimezone}}" for f in columns)
    return ("    ToUtc = (v) => if v is datetime then DateTime.AddZone(v, 0) else v,\n"
            f"    Utc = Table.TransformColumns({previous}, {{\n{fixes}\n    }})")


def _types_step(schema: pa.Schema, previous: str) -> str:
    pairs = ",\n".join(f"        {{{m_text(f.name)}, {m_type(f)}}}" for f in schema)
    return f"    Typed = Table.TransformColumnTypes({previous}, {{\n{pairs}\n    }})"


def newest_ready_file(folder: Path, dataset: str) -> Path | None:
    """`newest_ready_copy` over the entries of `folder`."""
    name = newest_ready_copy((p.name for p in folder.iterdir()), dataset)
    return folder / name if name else None
