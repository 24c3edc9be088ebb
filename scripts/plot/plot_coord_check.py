#!/usr/bin/python3
"""Coordinate check: mean |h^l| of the preactivations at each step against width N (log x),
one line per (layer, step), from `dmft train` files (e.g. run with --coord-check). In a
width-independent (mean-field) parameterisation the lines are flat in N. Given several files
(e.g. the mean-field run and a deliberately wrong `--readout ntk` run), one panel per file,
titled by its readout. Lines are seed means; error bars are one standard error over seeds.

Example:
    scripts/plot/plot_coord_check.py cc.h5 cc_ntk.h5 -o coord.png
"""
import argparse
import sys

import numpy as np

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import dmft_files as df  # noqa: E402  (selects the Agg backend)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

MARKERS = "osD^v<>ph*"
LINESTYLES = ("-", "--", "-.", ":")


def read(f, quantity):
    """Widths and the seed mean and standard error of `quantity`, each (n_widths, T, L)."""
    ns = df.widths(f)
    mean, se = [], []
    for N in ns:
        g = df.width_group(f, N)
        mean.append(df.dataset(f, f"{g.name}/{quantity}_mean"))
        se.append(df.dataset(f, f"{g.name}/{quantity}_std") / np.sqrt(df.n_seeds(g)))
    T = min(m.shape[0] for m in mean)
    return np.array(ns), np.array([m[:T] for m in mean]), np.array([s[:T] for s in se])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", metavar="FINITE.h5", nargs="+", help="outputs of `dmft train` (one panel each)")
    ap.add_argument("--dh", action="store_true", help="plot mean |h^l(t) − h^l(0)| instead of mean |h^l(t)|")
    ap.add_argument("--steps", help="comma-separated steps t to show (default: all)")
    ap.add_argument("--yscale", choices=["auto", "log", "linear"], default="auto",
                    help="y axis; auto: log when the values span more than a factor 10, else linear from 0 (default: %(default)s)")
    ap.add_argument("-o", "--output", default="coord.png", help="figure to write, .png or .pdf (default: %(default)s)")
    args = ap.parse_args()

    quantity = "mean_abs_dh" if args.dh else "mean_abs_h"
    files = [df.open_checked(path, df.FINITE) for path in args.files]
    data = [read(f, quantity) for f in files]
    T = max(mean.shape[1] for _, mean, _ in data)
    steps = list(range(T)) if args.steps is None else [int(s) for s in args.steps.split(",")]
    if args.dh:
        steps = [t for t in steps if t > 0]  # h(0) - h(0) = 0
    cmap, norm = plt.cm.viridis, Normalize(0, max(T - 1, 1))

    fig, axes = plt.subplots(1, len(files), figsize=(5.2 * len(files) + 1.2, 4.4),
                             layout="constrained", squeeze=False, sharey=False)
    for ax, f, (ns, mean, se) in zip(axes[0], files, data):
        L = mean.shape[2]
        shown = [t for t in steps if 0 <= t < mean.shape[1]]
        if not shown:
            raise df.DataError(f"{f.filename}: none of the steps {args.steps} is recorded (T = {mean.shape[1]})")
        for layer in range(L):
            for t in shown:
                y = mean[:, t, layer]
                ok = np.isfinite(y)
                if not ok.all():
                    df.warn(f"{f.filename}: non-finite mean |h^{layer + 1}| at t = {t} left out")
                ax.errorbar(ns[ok], y[ok], yerr=se[ok, t, layer], color=cmap(norm(t)),
                            marker=MARKERS[layer % len(MARKERS)], ms=4, capsize=2, lw=1,
                            ls=LINESTYLES[layer % len(LINESTYLES)])
        values = (mean + se)[:, shown, :]
        values = values[np.isfinite(values) & (values > 0)]
        log = args.yscale == "log" or (args.yscale == "auto" and values.size and values.max() / values.min() > 10)
        ax.set_yscale("log" if log else "linear")
        if not log and values.size:
            ax.set_ylim(0, 1.08 * values.max())  # flat in N should look flat: no zoom onto seed noise
        ax.set_xscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xticks([], minor=True)
        ax.set_xlabel("width N")
        ax.set_ylabel(r"mean $|h^l(t) - h^l(0)|$" if args.dh else r"mean $|h^l(t)|$")
        fw = f["finite_width"].attrs
        ax.set_title(f"readout: {df.text(fw.get('readout', b'?'))}  ({df.text(fw.get('network', b'?'))} network)\n"
                     f"{f.filename}, {df.describe(f)}", fontsize=9)
        if L > 1:
            ax.legend(handles=[Line2D([], [], color="k", marker=MARKERS[l % len(MARKERS)], ms=4, lw=1,
                                      ls=LINESTYLES[l % len(LINESTYLES)], label=f"layer {l + 1}") for l in range(L)],
                      fontsize=8, frameon=False)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[0].tolist(), label="step t", shrink=0.9)
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
