#!/usr/bin/python3
"""Two-time structure of a kernel for one pair of examples: K(t, μ; s, ν) as a T×T image over
(t, s), for K = Phi^l or G^l. Shows the DMFT and, given a `dmft train` file, the seed-mean finite
network at one width (the largest by default) next to it, on a shared colour scale.

Example:
    scripts/plot/plot_phi_time.py relu.h5 relu_fw.h5 --mu 0 --nu 3 -o phi.png
"""
import argparse
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import dmft_files as df  # noqa: E402  (selects the Agg backend)
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dmft", metavar="DMFT.h5", help="output of `dmft solve`")
    ap.add_argument("finite", metavar="FINITE.h5", nargs="?", help="output of `dmft train` (optional)")
    ap.add_argument("--width", type=int, help="network width N (default: the largest in FINITE.h5)")
    ap.add_argument("--layer", type=int, default=1, help="hidden layer l, from 1 (default: %(default)s)")
    ap.add_argument("--kernel", choices=["Phi", "G"], default="Phi", help="feature (Phi) or gradient (G) kernel (default: %(default)s)")
    ap.add_argument("--mu", type=int, default=0, help="first example μ (default: %(default)s)")
    ap.add_argument("--nu", type=int, default=0, help="second example ν (default: %(default)s)")
    ap.add_argument("-o", "--output", default="phi.png", help="figure to write, .png or .pdf (default: %(default)s)")
    args = ap.parse_args()

    f_dmft = df.open_checked(args.dmft, df.SOLUTION)
    df.check_convergence(f_dmft)
    kernels = {"DMFT": df.dmft_kernel(f_dmft, args.kernel, args.layer)}
    if args.finite:
        f_fin = df.open_checked(args.finite, df.FINITE)
        df.check_same_data(f_dmft, f_fin)
        N = df.choose_width(f_fin, args.width)
        K = df.n_seeds(df.width_group(f_fin, N))
        a, b = df.common_time(kernels["DMFT"], df.finite_kernel(f_fin, N, args.kernel, args.layer))
        kernels = {"DMFT": a, f"N = {N}, mean of {K} seeds": b}
    P = kernels["DMFT"].shape[1]
    for name in ("mu", "nu"):
        if not 0 <= getattr(args, name) < P:
            raise df.DataError(f"--{name} {getattr(args, name)} is out of range: the files hold P = {P} examples (0..{P - 1})")

    images = {k: v[:, args.mu, :, args.nu] for k, v in kernels.items()}
    lo = min(m.min() for m in images.values())
    hi = max(m.max() for m in images.values())
    fig, axes = plt.subplots(1, len(images), figsize=(4.6 * len(images) + 1, 4.4), layout="constrained", squeeze=False)
    for ax, (title, m) in zip(axes[0], images.items()):
        im = ax.imshow(m, origin="lower", cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("s")
        ax.set_ylabel("t")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.9)
    sym = {"Phi": r"\Phi", "G": "G"}[args.kernel]
    fig.suptitle(f"${sym}^{{{args.layer}}}(t, \\mu={args.mu};\\, s, \\nu={args.nu})$:  {df.describe(f_dmft)}")
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
