"""The markdown table and the PNG plot of the results (matplotlib is imported by make_plot only)."""

from .load import LOAD_LIMIT


def fmt_us(s):
    us = s * 1e6
    if us < 10:
        return f"{us:.2f} us"
    if us < 100:
        return f"{us:.1f} us"
    return f"{us:,.0f} us"


def fmt_value(kind, v):
    if v is None:
        return "-"
    if kind == "kernel":
        return fmt_us(v)
    if kind == "epoch":
        return f"{v:.2f} s"
    return f"{v:,.0f} img/s"


def fmt_ratio(v):
    return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"


def make_table(results):
    lines = ["| kernel | ember | PyTorch | ratio (ember/PyTorch time; inference: ember/PyTorch images/s) |",
             "|---|---|---|---|"]
    for r in results:
        ratio = "-" if r["ratio"] is None else fmt_ratio(r["ratio"])
        if r["kind"] == "throughput" and r["ratio"] is not None:
            ratio += " (throughput, higher is better)"
        mark = " (!)" if r.get("loaded") else ""
        lines.append(f"| `{r['name']}` | {fmt_value(r['kind'], r['ember'])} | "
                     f"{fmt_value(r['kind'], r['torch'])}{mark} | {ratio} |")
    if any(r.get("loaded") for r in results):
        lines.append("")
        lines.append(f"(!) other processes used more than {LOAD_LIMIT} of a core while PyTorch was timed on "
                     "this row: its time is not trustworthy.")
    return "\n".join(lines)


def make_plot(path, results, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r["ratio"] is not None]
    labels, values = [], []
    for r in rows:
        mark = " (!)" if r.get("loaded") else ""
        if r["kind"] == "throughput":
            labels.append(f"{r['name']}  (PyTorch/ember images/s){mark}")
            values.append(1.0 / r["ratio"])
        else:
            labels.append(r["name"] + mark)
            values.append(r["ratio"])
    height = max(3.0, 0.3 * len(rows) + 1.6)
    fig, ax = plt.subplots(figsize=(11, height))
    if not rows:
        ax.text(0.5, 0.5, "no row has both an ember and a PyTorch time", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        y = list(range(len(rows)))[::-1]  # first row at the top
        colors = ["tab:green" if v <= 1.0 else "tab:red" for v in values]
        bars = ax.barh(y, values, color=colors, height=0.7)
        for bar, r in zip(bars, rows):
            if r.get("loaded"):
                bar.set_hatch("//")
                bar.set_alpha(0.5)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        lo, hi = min(values + [1.0]), max(values + [1.0])
        if hi / lo > 10:
            ax.set_xscale("log")
            ax.set_xlim(lo / 1.5, hi * 2.0)
        else:
            ax.set_xlim(0, hi * 1.18)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="1.0 = as fast as PyTorch")
        for yi, v in zip(y, values):
            ax.text(v, yi, " " + fmt_ratio(v), va="center", fontsize=7)
        ax.set_xlabel("ember time / PyTorch time  (lower is better for ember; "
                      "throughput rows: PyTorch / ember images/s)")
        if any(r.get("loaded") for r in rows):
            ax.plot([], [], " ", label="(!) hatched: machine was busy, PyTorch time not trustworthy")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (height - 0.9)), ncol=2, fontsize=8,
                  frameon=False)
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
