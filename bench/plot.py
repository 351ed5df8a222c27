"""Latency distribution per tool and file system (ECDF, log scale). Run by run.py with the
venv's Python:

    python plot.py results/latest.json results/latency.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FS_NAMES = {"tmpfs": "tmpfs (/dev/shm)", "tmp": "default temp dir"}


def main():
    data = json.load(open(sys.argv[1]))
    lat = data["latency"]
    fss = [f for f in lat["filesystems"] if not f.get("skipped")]
    tools = [t for t in lat["tools"] if not t["skipped"]]
    palette = plt.get_cmap("tab20").colors
    colors = {t["key"]: palette[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20] for i, t in enumerate(tools)}
    fig, axes = plt.subplots(1, max(1, len(fss)), figsize=(8 * max(1, len(fss)), 8), sharex=True, sharey=True,
                             squeeze=False)
    for ax, fs in zip(axes[0], fss):
        for t in tools:
            for s in lat["series"]:
                if s["fs"] != fs["key"] or s["tool"] != t["key"] or not s["samples_ns"]:
                    continue
                ms = sorted(x / 1e6 for x in s["samples_ns"])
                n = len(ms)
                bold = t["key"] in ("host", "floor")
                ax.step(ms, [(i + 1) / n for i in range(n)], where="post", color=colors[t["key"]],
                        linewidth=2.2 if bold else 1.2, linestyle="-" if s["mode"] == "in-place" else "--",
                        label="%s, %s (n=%d)" % (t.get("short", t["key"]), s["mode"], n))
        ax.set_xscale("log")
        ax.set_xlabel("edit → output (ms, log scale); solid: in-place saves, dashed: rename")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(FS_NAMES.get(fs["key"], fs["key"]))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=3, frameon=False)
    axes[0][0].set_ylabel("fraction of saves at or below")
    fig.suptitle("hotload-host benchmark: edit-to-output latency, all tools interleaved in one run (%s, seed %s)" % (
        data["machine"]["date"], lat["seed"]), fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
