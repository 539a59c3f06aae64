"""The Power BI hand-off beside the data: Power Query M per dataset, a .pbids and a README (docs/POWERBI.md)."""
