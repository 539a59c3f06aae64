"""The `.pbids` that opens Power BI Desktop on a folder: one Folder connection, Import mode, no credentials.

Format: Microsoft, "Using PBIDS files to get data"
(https://learn.microsoft.com/en-us/power-bi/connect-data/desktop-data-sources#using-pbids-files-to-get-data).
"""

from __future__ import annotations

import json

PBIDS_NAME = "sf_assets.pbids"


def pbids_document(folder: str) -> str:
    """The JSON of a `.pbids` whose one connection is the Folder connector on `folder`."""
    connection = {"details": {"protocol": "folder", "address": {"path": folder}}, "mode": "Import"}
    return json.dumps({"version": "0.1", "connections": [connection]}, indent=2) + "\n"
