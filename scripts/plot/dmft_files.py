"""Shared helpers for the plotting scripts in scripts/plot: open and check the HDF5 files
written by `dmft solve`, `dmft train` and `dmft compare`, read their parameters and kernels,
and save figures. Any problem with an input file ends the script with one line on stderr and
exit code 2 (see `fail`).

The file formats are described in docs/FORMAT.md; in short, two-time kernels are stored
row-major as (T, P, T, P) with element [t, mu, s, nu] = K(t, mu; s, nu).
"""
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display: the scripts only write files

SOLUTION = "dmft-solution"        # dmft solve
FINITE = "dmft-finite-width"      # dmft train
COMPARISON = "dmft-comparison"    # dmft compare


class DataError(Exception):
    """A problem with an input file (missing, wrong format, incomplete, missing data)."""


def fail(message):
    """Print one line `script: error: message` to stderr and exit with code 2."""
    prog = os.path.basename(sys.argv[0]) or "plot"
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


def warn(message):
    prog = os.path.basename(sys.argv[0]) or "plot"
    print(f"{prog}: warning: {message}", file=sys.stderr)


def run(main):
    """Call main(); turn a DataError into `fail` (one line on stderr, exit code 2)."""
    try:
        main()
    except DataError as e:
        fail(str(e))


def text(value):
    """A string attribute as str (h5py returns fixed-length strings as bytes)."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return text(value[()])
    return str(value)


def open_checked(path, fmt):
    """Open `path` read-only and check its root attributes: `format` == fmt and `complete` == 1."""
    if not os.path.isfile(path):
        hint = f" ({path}.tmp exists: the run is still writing it)" if os.path.exists(path + ".tmp") else ""
        raise DataError(f"{path}: no such file{hint}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
    found = text(f.attrs["format"]) if "format" in f.attrs else None
    if found != fmt:
        f.close()
        what = f"format '{found}'" if found is not None else "no 'format' attribute"
        raise DataError(f"{path}: expected a '{fmt}' file but it has {what}")
    if int(f.attrs.get("complete", 0)) != 1:
        f.close()
        raise DataError(f"{path}: incomplete file (root attribute 'complete' is not 1)")
    return f


def dataset(f, path):
    """The dataset at `path` as a numpy array, or a DataError naming the file and path."""
    if path not in f:
        raise DataError(f"{f.filename}: missing dataset {path}")
    return f[path][()]


def parameters(f):
    """The attributes of /parameters as a dict of Python values (strings decoded)."""
    if "parameters" not in f:
        return {}
    return {k: (text(v) if isinstance(v, (bytes, np.bytes_, str)) else v)
            for k, v in f["parameters"].attrs.items()}


def describe(f):
    """Short run description for titles: model, activation, depth, gamma0, eta."""
    p = parameters(f)
    model = text(f.attrs.get("model", b"")) or p.get("model", "?")
    parts = [model]
    if "activation" in p:
        parts.append(str(p["activation"]))
    if "depth" in p:
        parts.append(f"L = {p['depth']}")
    if "gamma0" in p:
        parts.append(f"γ₀ = {p['gamma0']:g}")
    if "eta" in p:
        parts.append(f"η = {p['eta']:g}")
    return ", ".join(parts)


def check_convergence(f):
    """Warn (stderr) if a DMFT solution did not converge."""
    if "convergence" in f:
        status = text(f["convergence"].attrs.get("status", b"converged"))
        if status != "converged":
            warn(f"{f.filename}: DMFT status is '{status}', not 'converged'")


def check_same_data(f_dmft, f_finite):
    """Warn if the two files were not made from the same inputs X."""
    try:
        a, b = f_dmft["data/X"][()], f_finite["data/X"][()]
    except KeyError:
        return
    if a.shape != b.shape or not np.allclose(a, b):
        warn(f"{f_dmft.filename} and {f_finite.filename} hold different inputs /data/X")


def widths(f):
    """Sorted widths N of a dmft-finite-width file."""
    return sorted(int(n) for n in dataset(f, "finite_width/widths"))


def choose_width(f, width=None):
    """`width` if the file holds it (the largest width when None), else a DataError."""
    ns = widths(f)
    if not ns:
        raise DataError(f"{f.filename}: no widths in /finite_width/widths")
    if width is None:
        return ns[-1]
    if width not in ns:
        raise DataError(f"{f.filename}: no width {width}; it holds {','.join(map(str, ns))}")
    return width


def width_group(f, width):
    name = f"finite_width/N{width}"
    if name not in f:
        raise DataError(f"{f.filename}: missing group /{name}")
    return f[name]


def n_seeds(group):
    """Number of seeds K behind a width group's means (from the per-seed loss)."""
    if "loss" in group:
        return int(group["loss"].shape[0])
    return int(group.file["finite_width"].attrs.get("seeds", 1))


def dmft_kernel(f, kernel, layer):
    """DMFT kernel `kernel` (Phi or G) of `layer` as (T, P, T, P)."""
    layers = f["solution/layers"] if "solution/layers" in f else {}
    if str(layer) not in layers:
        raise DataError(f"{f.filename}: no layer {layer}; it holds layers {','.join(sorted(layers, key=int)) or 'none'}")
    return dataset(f, f"solution/layers/{layer}/{kernel}")


def finite_kernel(f, width, kernel, layer):
    """Seed-mean kernel `kernel` (Phi or G) of `layer` at `width` as (T, P, T, P)."""
    g = width_group(f, width)
    if "layers" not in g:
        raise DataError(f"{f.filename}: no kernels recorded (a coordinate check, or run with kernels off)")
    if str(layer) not in g["layers"]:
        raise DataError(f"{f.filename}: no layer {layer}; it holds layers {','.join(sorted(g['layers'], key=int))}")
    return dataset(f, f"{g.name}/layers/{layer}/{kernel}_mean")


def common_time(a, b, what="kernels"):
    """Cut two (T, P, ...) arrays to their common number of steps (the dynamics are causal, so the
    first T steps of a longer run are the shorter run's steps). P must agree."""
    if a.shape[1] != b.shape[1]:
        raise DataError(f"{what} have different numbers of examples P: {a.shape[1]} and {b.shape[1]}")
    T = min(a.shape[0], b.shape[0])
    if a.shape[0] != b.shape[0]:
        warn(f"{what} have different numbers of steps ({a.shape[0]} and {b.shape[0]}); using the first {T}")
    cut = lambda k: k[:T, :, :T, :] if k.ndim == 4 else k[:T]
    return cut(a), cut(b)


def square(kernel):
    """(T, P, T, P) -> (T*P, T*P), the matrix with row index t*P + mu and column s*P + nu."""
    T, P = kernel.shape[:2]
    return kernel.reshape(T * P, T * P)


def save(fig, path):
    """Write the figure (format from the extension: .png, .pdf, ...)."""
    fig.savefig(path, dpi=150, bbox_inches="tight")
    print(f"wrote {path}")
