#!/usr/bin/python3
"""Convergence of finite networks to the DMFT with width N, from a `dmft compare` file: the
relative Frobenius error (or 1 − alignment) against N on log-log axes, one series per quantity
(loss, NTK, Phi and G averaged over layers; each layer too with --per-layer). Points are the
mean over seeds of the per-seed errors, with error bars of one standard error across seeds.
For rel_frobenius the fitted power laws c·N^(−a) of /fits are drawn dashed; the grey dotted line
is a reference slope N^(−1/2) (N^(−1) for 1 − alignment, which is quadratic in small errors).

Example:
    scripts/plot/plot_convergence.py cmp.h5 --per-layer -o convergence.png
"""
import argparse
import sys

import numpy as np

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import dmft_files as df  # noqa: E402  (selects the Agg backend)
import matplotlib.pyplot as plt  # noqa: E402

QUANTITIES = ("loss", "ntk", "Phi", "G", "Delta", "A")
LABELS = {"loss": "loss", "ntk": "NTK", "Phi": "Φ", "G": "G", "Delta": "Δ", "A": "attention logits A"}
YLABELS = {"rel_frobenius": "relative Frobenius error", "alignment": "1 − alignment",
           "rms_final": "rms error at the last step t = T − 1"}


def read_columns(f, group, names):
    cols = {n: df.dataset(f, f"{group}/{n}") for n in names}
    return {n: (np.char.decode(c) if c.dtype.kind == "S" else c) for n, c in cols.items()}


def series_label(quantity, layer):
    if quantity not in ("Phi", "G"):  # not per layer (attention: Delta, A, Phi_h, ...)
        return LABELS.get(quantity, quantity)
    return f"{LABELS[quantity]} " + ("(layer mean)" if layer == 0 else f"layer {layer}")


def model_name(f):
    return df.text(f.attrs.get("model", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("comparison", metavar="COMPARISON.h5", help="output of `dmft compare`")
    ap.add_argument("--metric", choices=["rel_frobenius", "alignment", "rms_final"], default="rel_frobenius",
                    help="relative Frobenius error, alignment (plotted as 1 − alignment), or (attention) the absolute "
                         "rms error at the last step, the measure of attention.md 4.3-4.5 (default: %(default)s)")
    ap.add_argument("--per-layer", action="store_true", help="also one series per layer for Phi and G")
    ap.add_argument("-o", "--output", default="convergence.png", help="figure to write, .png or .pdf (default: %(default)s)")
    args = ap.parse_args()

    f = df.open_checked(args.comparison, df.COMPARISON)
    tab = read_columns(f, "table", ("width", "seed", "layer", "quantity", "metric", "value"))
    fits = read_columns(f, "fits", ("quantity", "layer", "data", "ok", "a", "a_se", "c")) if "fits" in f else None
    if fits is not None:  # files before the attention model fitted rel_frobenius only
        fits["metric"] = (read_columns(f, "fits", ("metric",))["metric"] if "fits/metric" in f
                          else np.array(["rel_frobenius"] * len(fits["quantity"])))

    rows = (tab["metric"] == args.metric) & (tab["seed"] >= 0)
    if not rows.any():
        raise df.DataError(f"{args.comparison}: no per-seed rows with metric {args.metric}")
    series = sorted({(q, int(l)) for q, l in zip(tab["quantity"][rows], tab["layer"][rows])
                     if args.per_layer or l == 0 or q not in ("Phi", "G")},
                    key=lambda s: (QUANTITIES.index(s[0]) if s[0] in QUANTITIES else 9, s[1]))

    fig, ax = plt.subplots(figsize=(6.8, 5), layout="constrained")
    colours = plt.cm.tab10.colors
    draw_fits = args.metric in ("rel_frobenius", "rms_final") and fits is not None
    allN, ally, handles = [], [], []
    for i, (q, layer) in enumerate(series):
        colour = colours[i % len(colours)]
        sel = rows & (tab["quantity"] == q) & (tab["layer"] == layer)
        Ns = np.unique(tab["width"][sel])
        mean, se = [], []
        for N in Ns:
            v = tab["value"][sel & (tab["width"] == N)]
            v = 1.0 - v if args.metric == "alignment" else v
            mean.append(v.mean())
            se.append(v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0)
        mean, se = np.array(mean), np.array(se)
        if (mean <= 0).any():
            df.warn(f"{series_label(q, layer)}: non-positive values left out of the log-log plot")
        style = ("o" if layer == 0 else "s") + ("" if draw_fits else ("-" if layer == 0 else ":"))
        handles.append(ax.errorbar(Ns, mean, yerr=se, fmt=style, ms=5 if layer == 0 else 3.5,
                                   color=colour, capsize=3, lw=1.2, label=series_label(q, layer)))
        allN += list(Ns[mean > 0])
        ally += list(mean[mean > 0])

        if draw_fits:
            k = np.flatnonzero((fits["quantity"] == q) & (fits["layer"] == layer) & (fits["metric"] == args.metric)
                               & (fits["data"] == "per-seed") & (fits["ok"] == 1))
            if len(k):
                a, a_se, c = fits["a"][k[0]], fits["a_se"][k[0]], fits["c"][k[0]]
                n = np.geomspace(Ns.min(), Ns.max(), 50)
                handles += ax.plot(n, c * n ** (-a), "--", color=colour, lw=1,
                                   label=f"a = {a:.2f} ± {a_se:.2f}")

    if allN:  # reference slope through the geometric centre of the points: errors ~ N^(-1/2),
        # so 1 - alignment (quadratic in the error for small errors) ~ N^(-1)
        slope, tex = (1.0, "-1") if args.metric == "alignment" else (0.5, "-1/2")
        N0, y0 = np.exp(np.mean(np.log(allN))), np.exp(np.mean(np.log(ally)))
        n = np.geomspace(min(allN), max(allN), 50)
        handles += ax.plot(n, y0 * (n / N0) ** -slope, ":", color="grey", lw=1.5, label=f"$\\propto N^{{{tex}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = np.unique(tab["width"][rows])
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("width N" if model_name(f) != "attention" else "head dimension N or head count H (the --widths of dmft train)")
    ax.set_ylabel(YLABELS[args.metric])
    model = df.text(f.attrs.get("model", b""))
    files = f"{df.text(f.attrs.get('dmft_file', b'?'))} vs {df.text(f.attrs.get('finite_width_file', b'?'))}"
    ax.set_title((f"{model}: " if model else "") + files + "\nmean over seeds ± 1 s.e.", fontsize=10)
    if len(series) > 4:  # many series: legend outside, right of the axes
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    else:
        ax.legend(handles=handles, fontsize=8, frameon=False)
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
