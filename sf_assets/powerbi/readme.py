"""The README.txt beside the data: how to connect and refresh, UTC times, the health JSON, UNC paths."""

from __future__ import annotations

from sf_assets.powerbi.m_query import PARAMETER, Place
from sf_assets.powerbi.pbids import PBIDS_NAME
from sf_assets.publish.naming import READY_SUFFIX

README_NAME = "README.txt"
PARAMETER_FILE = f"{PARAMETER}.parameter.pq"


def readme_text(place: Place, folder: str, health_dir: str) -> str:
    """The README of `folder` (the output folder or the share), with Windows line ends for Notepad."""
    files = ("  <dataset>\\<dataset>.parquet   the current data of each dataset (same name at every refresh)"
             if place == "output" else
             f"  <dataset>__<UTC time>__<refresh id>.parquet   one copy per refresh; a copy is complete once\n"
             f"      its marker <copy name>{READY_SUFFIX} exists. The queries read the newest complete copy.")
    lines = [
        "Salesforce data for Power BI, written by sf_assets at every refresh (this file is replaced: do not edit).",
        "",
        f"Folder: {folder}",
        files,
        "  <dataset>.pq          the Power Query M of each dataset: every column with its type",
        f"  {PARAMETER_FILE}   the {PARAMETER} parameter those queries read",
        f"  {PBIDS_NAME}        double-click: Power BI Desktop opens on this folder (Folder connector)",
        "",
        "Connect (Power BI Desktop):",
        f"  1. Home > Transform data > Manage Parameters > New Parameter: name {PARAMETER}, type Text,",
        f"     current value {folder}",
        "  2. Home > New Source > Blank Query > Advanced Editor: paste <dataset>.pq and name the query",
        "     after the dataset. Repeat for each dataset, then Close & Apply.",
        "Refresh: Home > Refresh. For the published report, add this folder to the on-premises data gateway",
        "  as a Folder data source with exactly this path, and schedule the refresh after the pipeline's.",
        "",
        "Use the UNC path (\\\\server\\share\\...), never a mapped drive letter (S:\\...): the gateway runs as a",
        "  Windows service, and its account does not see the drives mapped in a user's session.",
        "",
        "Times are UTC: every date/time column is a Date/Time/Timezone at +00:00. To show local time add a",
        "  column in Power Query: DateTimeZone.SwitchZone([Column], 1) for a fixed offset (here +1 hour), or",
        "  DateTimeZone.ToLocal([Column]) for the zone of the machine that refreshes (your PC in Desktop,",
        "  the gateway machine for a scheduled refresh).",
        "",
        f"Health of each refresh: health_check_<refresh id>.json in {health_dir} (status, rows, warnings,",
        "  published copies); the newest one is the last refresh.",
    ]
    return "\r\n".join(lines) + "\r\n"
