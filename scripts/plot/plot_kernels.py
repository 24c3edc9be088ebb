#!/usr/bin/python3
"""Heatmaps of a whole two-time kernel, Phi^l or G^l, as the (T·P)×(T·P) matrix with index
t·P + μ: the DMFT, the seed-mean finite network at one width (the largest by default), and
their difference (finite − DMFT). The first two panels share one colour scale.

Example:
    scripts/plot/plot_kernels.py dl.h5 fw.h5 --kernel Phi --layer 2 -o kernels.png
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
    ap.add_argument("finite", metavar="FINITE.h5", help="output of `dmft train` (with kernels)")
    ap.add_argument("--width", type=int, help="network width N (default: the largest in the file)")
    ap.add_argument("--layer", type=int, default=1, help="hidden layer l, from 1 (default: %(default)s)")
    ap.add_argument("--kernel", choices=["Phi", "G"], default="Phi", help="feature (Phi) or gradient (G) kernel (default: %(default)s)")
    ap.add_argument("-o", "--output", default="kernels.png", help="figure to write, .png or .pdf (default: %(default)s)")
    args = ap.parse_args()

    f_dmft = df.open_checked(args.dmft, df.SOLUTION)
    f_fin = df.open_checked(args.finite, df.FINITE)
    df.check_convergence(f_dmft)
    df.check_same_data(f_dmft, f_fin)
    N = df.choose_width(f_fin, args.width)
    k_dmft, k_fin = df.common_time(df.dmft_kernel(f_dmft, args.kernel, args.layer),
                                   df.finite_kernel(f_fin, N, args.kernel, args.layer))
    a, b = df.square(k_dmft), df.square(k_fin)
    diff = b - a
    rel = np.linalg.norm(diff) / np.linalg.norm(a)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    name = {"Phi": r"$\Phi", "G": "$G"}[args.kernel] + f"^{{{args.layer}}}$"
    K = df.n_seeds(df.width_group(f_fin, N))
    for ax, m, title in ((axes[0], a, f"DMFT {name}"), (axes[1], b, f"N = {N}, mean of {K} seeds")):
        im = ax.imshow(m, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title)
    fig.colorbar(im, ax=axes[:2], shrink=0.85)
    lim = np.abs(diff).max() or 1.0
    im = axes[2].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    axes[2].set_title(f"finite − DMFT  (relative Frobenius error {rel:.3g})")
    fig.colorbar(im, ax=axes[2], shrink=0.85)
    for ax in axes:
        ax.set_xlabel("s·P + ν")
        ax.set_ylabel("t·P + μ")
    T, P = k_dmft.shape[:2]
    fig.suptitle(f"{name}(t, μ; s, ν), T = {T}, P = {P}:  {df.describe(f_dmft)}")
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
