"""Latency distribution per tool (log scale). Run by run.py with the venv's Python:

    python plot.py results/latest.json results/latency.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    data = json.load(open(sys.argv[1]))
    series = [s for s in data["latency"]["series"] if s["samples_ns"]]
    fig, (ecdf, box) = plt.subplots(1, 2, figsize=(14, 8), gridspec_kw={"width_ratios": [3, 2]})
    colors = {}
    palette = plt.get_cmap("tab10").colors
    for s in series:
        color = colors.setdefault(s["tool"], palette[len(colors) % len(palette)])
        ms = sorted(x / 1e6 for x in s["samples_ns"])
        n = len(ms)
        ecdf.step(ms, [(i + 1) / n for i in range(n)], where="post", color=color,
                  linestyle="-" if s["mode"] == "in-place" else "--", label="%s (n=%d)" % (s["label"], n))
    for x, text in ((0.5, "p50 target 0.5 ms"), (2.0, "p95 target 2 ms")):
        ecdf.axvline(x, color="grey", linestyle=":", linewidth=1)
        ecdf.text(x, 0.5, " " + text, rotation=90, va="bottom", fontsize=8, color="grey")
    ecdf.set_xscale("log")
    ecdf.set_xlabel("edit-to-output latency (ms, log scale)")
    ecdf.set_ylabel("fraction of edits at or below")
    ecdf.grid(True, which="both", alpha=0.3)
    ecdf.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2, frameon=False)
    ecdf.set_title("Latency distribution (ECDF)")

    labels = [s["label"] for s in series]
    boxes = [[x / 1e6 for x in s["samples_ns"]] for s in series]
    try:  # matplotlib >= 3.10
        box.boxplot(boxes, orientation="horizontal", whis=(5, 95), flierprops={"markersize": 2})
    except TypeError:
        box.boxplot(boxes, vert=False, whis=(5, 95), flierprops={"markersize": 2})
    box.set_yticks(range(1, len(labels) + 1), labels, fontsize=8)
    box.set_xscale("log")
    box.set_xlabel("ms (log scale); box p25-p75, whiskers p5-p95")
    box.grid(True, which="both", axis="x", alpha=0.3)
    box.invert_yaxis()
    box.set_title("Per tool")
    fig.suptitle("hotload-host benchmark: edit-to-output latency (%s)" % data["machine"]["date"], fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
