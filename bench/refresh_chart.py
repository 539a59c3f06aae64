"""PNG of a refresh_vs_baseline result: stage bars per round (left), RSS over time per process (right)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after selecting the headless backend

BASELINE_STAGES = ("start_up_s", "extract_s", "join_s")


def draw(summary: dict, path: Path) -> None:
    """Write the chart of `summary` (the JSON result) to `path`."""
    rounds = summary["rounds"]
    fig, (bars, rss) = plt.subplots(1, 2, figsize=(15, 6))
    names, lefts = [], []
    colors = plt.get_cmap("tab20").colors
    legend: dict[str, object] = {}
    for i, r in enumerate(rounds, 1):
        kinds = [("sf_assets", r["sf_assets"]["stages"])]
        if "baseline" in r:
            kinds.insert(0, ("baseline", {k.removesuffix("_s"): r["baseline"][k] for k in BASELINE_STAGES}))
        for kind, parts in kinds:
            y, left = len(names), 0.0
            names.append(f"{'script' if kind == 'baseline' else 'sf-assets'} r{i}")
            for j, (stage, seconds) in enumerate(parts.items()):
                key = f"{kind}:{stage}"
                colour = colors[(j + (0 if kind == "sf_assets" else 14)) % len(colors)]
                legend[key] = bars.barh(y, seconds, left=left, color=colour, label=stage if key not in legend else None)
                left += seconds
            lefts.append(left)
    bars.set_yticks(range(len(names)), names)
    bars.invert_yaxis()
    bars.set_xlabel("wall seconds")
    bars.set_title(
        f"{summary['profile']} ({summary['engine']}): median ratio {summary.get('median_ratio', 'n/a (no script)')}x"
    )
    bars.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 1.0), framealpha=0.6)
    for i, r in enumerate(rounds, 1):
        for kind, style in (("baseline", ":"), ("sf_assets", "-")):
            if kind not in r:
                continue
            series: dict[str, list[tuple[float, float]]] = {}
            for t, pid, label, mb in r[kind]["rss_series"]:
                series.setdefault(f"{label} {pid}", []).append((t, mb))
            for name, points in series.items():
                if max(mb for _, mb in points) < 50:
                    continue
                rss.plot([t for t, _ in points], [mb for _, mb in points], style,
                         label=f"{'script' if kind == 'baseline' else 'sf-assets'} r{i} {name.rsplit(' ', 1)[0]}")
    rss.set_xlabel("seconds since the command started")
    rss.set_ylabel("RSS (MB)")
    rss.set_title(f"RSS per process (emulator apart: peak {summary['emulator_peak_rss_mb']:.0f} MB)")
    rss.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
