#!/usr/bin/python3
"""Training loss against step t: the DMFT (black dashed) and finite networks of each width
(seed mean, with a band of ±1 standard error = std/sqrt(K) over the K seeds).

Example:
    scripts/plot/plot_loss.py dl.h5 fw.h5 -o loss.png --log
"""
import argparse
import sys

import numpy as np

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import dmft_files as df  # noqa: E402  (selects the Agg backend)
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dmft", metavar="DMFT.h5", help="output of `dmft solve`")
    ap.add_argument("finite", metavar="FINITE.h5", help="output of `dmft train`")
    ap.add_argument("-o", "--output", default="loss.png", help="figure to write, .png or .pdf (default: %(default)s)")
    ap.add_argument("--log", action="store_true", help="logarithmic loss axis")
    args = ap.parse_args()

    f_dmft = df.open_checked(args.dmft, df.SOLUTION)
    f_fin = df.open_checked(args.finite, df.FINITE)
    df.check_convergence(f_dmft)
    df.check_same_data(f_dmft, f_fin)

    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    ns = df.widths(f_fin)
    colours = plt.cm.viridis(np.linspace(0.0, 0.85, len(ns)))
    for N, colour in zip(ns, colours):
        g = df.width_group(f_fin, N)
        mean = df.dataset(f_fin, f"{g.name}/loss_mean")
        se = df.dataset(f_fin, f"{g.name}/loss_std") / np.sqrt(df.n_seeds(g))
        t = np.arange(len(mean))
        ax.plot(t, mean, color=colour, lw=1.5, label=f"N = {N}")
        ax.fill_between(t, mean - se, mean + se, color=colour, alpha=0.25, lw=0)

    loss = df.dataset(f_dmft, "solution/loss")
    ax.plot(np.arange(len(loss)), loss, "k--", lw=1.5, label="DMFT (N → ∞)")

    K = df.n_seeds(df.width_group(f_fin, ns[-1])) if ns else 0
    ax.set_xlabel("step t")
    ax.set_ylabel(r"loss  $\frac{1}{P}\sum_\mu \Delta(t,\mu)^2$")
    if args.log:
        ax.set_yscale("log")
    ax.set_title(f"{df.describe(f_dmft)}\nfinite widths: mean over {K} seeds ± 1 s.e.", fontsize=10)
    ax.legend(frameon=False)
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
