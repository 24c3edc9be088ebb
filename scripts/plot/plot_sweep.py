#!/usr/bin/python3
"""Heatmap of one column of a `dmft sweep collect` table (format dmft-sweep) over two swept
parameters, at one width: 0 (the default) picks the DMFT solves (N = ∞), a positive width the
train rows of that width. The grid is categorical, with ticks at the sorted distinct parameter
values; each cell shows its value (3 significant digits), and cells without a row are blank.
Rows that share an (x, y) cell (points differing in another parameter, e.g. seeds) are averaged,
with a warning naming the columns that vary. Losses and errors (positive) get a log colour scale
by default; --linear-color or --log-color choose. Integer columns use -1 for "not applicable",
which is treated like NaN.

Example:
    scripts/plot/plot_sweep.py sweep/sweep.h5 --x gamma0 --y eta --value loss_final -o sweep.png
    scripts/plot/plot_sweep.py sweep/sweep.h5 --width 256 --value vs_dmft_ntk_rel_error -o ntk.png
"""
import argparse
import os
import sys
import textwrap

import numpy as np

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import dmft_files as df  # noqa: E402  (selects the Agg backend)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

SWEEP = "dmft-sweep"  # dmft sweep collect
# Columns that are bookkeeping, not swept parameters (the parameters are told by their
# description "parameter --name"; these are the fallback when a file has no descriptions).
BOOKKEEPING = {"index", "command", "hash", "problem_hash", "output", "width", "status", "dmft_index"}
KEEP_MINUS_ONE = {"index", "width"}  # integer columns where -1 is not the "not applicable" mark


def read_table(f):
    """The /table columns in order, as {name: array} (text decoded to str, integer -1 -> NaN),
    and the names of the parameter columns."""
    if "table" not in f or "columns" not in f["table"].attrs:
        raise df.DataError(f"{f.filename}: no /table with a 'columns' attribute")
    t = f["table"]
    names = [n for n in df.text(t.attrs["columns"]).split(",") if n]
    cols, params = {}, []
    for n in names:
        c = df.dataset(f, f"table/{n}")
        if c.dtype.kind == "S":
            c = np.char.decode(c, "utf-8", "replace")
        elif c.dtype.kind in "iu":
            c = c.astype(float)
            if n not in KEEP_MINUS_ONE:
                c[c == -1] = np.nan
        cols[n] = c
        if df.text(t[n].attrs.get("description", b"")).startswith("parameter --"):
            params.append(n)
    lengths = {len(c) for c in cols.values()}
    if len(lengths) > 1:
        raise df.DataError(f"{f.filename}: the /table columns have different lengths {sorted(lengths)}")
    if not params:  # older file without descriptions: every column that is neither bookkeeping nor a metric
        metrics_from = names.index("loss_initial") if "loss_initial" in names else len(names)
        params = [n for n in names[:metrics_from] if n not in BOOKKEEPING]
    return names, cols, params


def numeric(cols, names, name, role):
    """Column `name` as float, or a DataError for an unknown or text column."""
    if name not in cols:
        raise df.DataError(f"no column '{name}' (for {role}); the table has: {', '.join(names)}")
    if cols[name].dtype.kind == "U":
        numbers = [n for n in names if cols[n].dtype.kind != "U"]
        raise df.DataError(f"column '{name}' (for {role}) holds text, not numbers; numeric columns: {', '.join(numbers)}")
    return cols[name]


def key(v):
    """A parameter value as a grid key (12 significant digits, so that printing round-offs merge)."""
    return float(f"{v:.12g}")


def tick(v):
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:g}"


def shown(cols, name, rows):
    """'name = value' for a parameter column that is constant (and set) on `rows`, else None."""
    c = cols[name][rows]
    if c.dtype.kind == "U":
        vals = set(c)
        return f"{name} = {c[0]}" if len(vals) == 1 and c[0] != "" else None
    if np.isnan(c).all() or np.nanmin(c) != np.nanmax(c) or np.isnan(c).any():
        return None
    return f"{name} = {tick(c[0])}"


def varies(c):
    if c.dtype.kind == "U":
        return len(set(c)) > 1
    nan = np.isnan(c)
    return (nan.any() and not nan.all()) or len(np.unique(c[~nan])) > 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", metavar="SWEEP.h5", help="output of `dmft sweep collect` (DIR/sweep.h5)")
    ap.add_argument("--x", default="gamma0", help="parameter column for the x axis (default: %(default)s)")
    ap.add_argument("--y", default="eta", help="parameter column for the y axis (default: %(default)s)")
    ap.add_argument("--value", default="loss_final", help="column shown as colour (default: %(default)s)")
    ap.add_argument("--width", type=int, default=0,
                    help="rows with this width: 0 = the DMFT solves, N > 0 = train rows of width N (default: %(default)s)")
    ap.add_argument("--command", help="only rows of this command, solve or train (default: any)")
    scale = ap.add_mutually_exclusive_group()
    scale.add_argument("--log-color", dest="log", action="store_true", default=None,
                       help="log colour scale (the default for positive losses and errors)")
    scale.add_argument("--linear-color", dest="log", action="store_false", help="linear colour scale")
    ap.add_argument("-o", "--output", default="sweep.png", help="figure to write, .png or .pdf (default: %(default)s)")
    args = ap.parse_args()

    f = df.open_checked(args.sweep, SWEEP)
    names, cols, params = read_table(f)
    if args.x == args.y:
        raise df.DataError(f"--x and --y are the same column '{args.x}'")
    x = numeric(cols, names, args.x, "--x")
    y = numeric(cols, names, args.y, "--y")
    value = numeric(cols, names, args.value, "--value")
    if "width" not in cols:
        raise df.DataError(f"{args.sweep}: the table has no 'width' column")
    skipped = len(f["skipped/index"]) if "skipped/index" in f else 0
    if skipped:
        df.warn(f"{args.sweep}: {skipped} point(s) were not complete and are not in the table")

    rows = cols["width"] == args.width
    if not rows.any():
        present = ", ".join(tick(w) for w in np.unique(cols["width"]))
        raise df.DataError(f"{args.sweep}: no rows with width {args.width}; widths present: {present or 'none'} (0 = solve)")
    if args.command is not None:
        commands = sorted(set(cols["command"][rows])) if "command" in cols else []
        rows &= cols["command"] == args.command if "command" in cols else False
        if not np.any(rows):
            raise df.DataError(f"{args.sweep}: no {args.command} rows with width {args.width}; "
                               f"commands there: {', '.join(commands) or 'none'}")
    if "status" in cols:
        bad = rows & ~np.isin(cols["status"], ("converged", "trained"))
        if bad.any():
            df.warn(f"{bad.sum()} of {rows.sum()} rows have a status other than converged/trained: "
                    f"{', '.join(sorted(set(cols['status'][bad])))}")
    for name, c in ((args.x, x), (args.y, y)):
        unset = rows & np.isnan(c)
        if unset.any():
            df.warn(f"{unset.sum()} of {rows.sum()} rows have no {name} (NaN: not an option of their command); left out")
            rows &= ~unset
    if not rows.any():
        raise df.DataError(f"no rows with width {args.width} have both {args.x} and {args.y}")
    if np.isnan(value[rows]).all():
        raise df.DataError(f"column '{args.value}' is NaN on every row with width {args.width} "
                           f"(not defined for {'solve' if args.width == 0 else 'train'} rows?)")

    # Categorical grid over the distinct values; average the rows that share a cell.
    kx = np.array([key(v) for v in x[rows]])
    ky = np.array([key(v) for v in y[rows]])
    v = value[rows]
    xs, ys = np.unique(kx), np.unique(ky)
    grid = np.full((len(ys), len(xs)), np.nan)
    count = np.zeros((len(ys), len(xs)), dtype=int)
    shared = []  # row masks (within `rows`) of cells with more than one row
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            cell = (kx == xv) & (ky == yv)
            count[j, i] = cell.sum()
            if count[j, i] > 1:
                shared.append(cell)
            if count[j, i] and np.isfinite(v[cell]).any():
                grid[j, i] = np.nanmean(v[cell])
    if shared:
        sub = {n: cols[n][rows] for n in names}
        vary = [n for n in (["command"] if "command" in names else []) + params
                if n not in (args.x, args.y) and any(varies(sub[n][c]) for c in shared)]
        df.warn(f"{len(shared)} of {count.astype(bool).sum()} cells average several rows (up to {count.max()}); "
                f"columns varying within cells: {', '.join(vary) or 'none (duplicate points?)'}")
    empty = int((count == 0).sum())
    if empty:
        df.warn(f"{empty} of {count.size} ({args.x}, {args.y}) cells have no row; shown blank")

    finite = grid[np.isfinite(grid)]
    lossy = any(w in args.value for w in ("loss", "error", "noise_floor"))
    log = lossy if args.log is None else args.log
    if log and (finite <= 0).any():
        if args.log:
            df.warn(f"'{args.value}' has values <= 0; using a linear colour scale")
        log = False
    lo, hi = finite.min(), finite.max()
    if lo == hi:  # a single value: widen the range so the scale is not degenerate
        lo, hi = (lo / 2, hi * 2) if log else (lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1))
    norm = LogNorm(lo, hi) if log else Normalize(lo, hi)

    nx, ny = len(xs), len(ys)
    fig, ax = plt.subplots(figsize=(min(3 + 0.9 * nx, 16), min(2.2 + 0.6 * ny, 12)), layout="constrained")
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")
    im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap, norm=norm,
                   interpolation="nearest")
    size = max(5, min(10, 120 / max(nx, 1.5 * ny)))
    for j in range(ny):
        for i in range(nx):
            if np.isfinite(grid[j, i]):
                r, g, b, _ = cmap(norm(grid[j, i]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(i, j, f"{grid[j, i]:.3g}", ha="center", va="center", fontsize=size,
                        color="white" if dark else "black")
    ax.set_xticks(range(nx), [tick(t) for t in xs], rotation=45 if nx > 8 else 0)
    ax.set_yticks(range(ny), [tick(t) for t in ys])
    ax.set_xlabel(args.x)
    ax.set_ylabel(args.y)
    bar = fig.colorbar(im, ax=ax, label=args.value)
    if log:  # plain numbers: decades over a wide range, 1, 2, 5 per decade over a few, linear within one
        decades = np.log10(hi / lo)
        locator = (ticker.LogLocator() if decades > 3 else ticker.LogLocator(subs=(1, 2, 5)) if decades > 1
                   else ticker.MaxNLocator(5))
        bar.ax.yaxis.set_major_locator(locator)
        bar.ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda t, _: f"{t:.3g}"))
        bar.ax.yaxis.set_minor_formatter(ticker.NullFormatter())

    which = "DMFT (N = ∞)" if args.width == 0 else f"N = {args.width}"
    fixed = [s for s in (shown(cols, n, rows) for n in params if n not in (args.x, args.y, "widths")) if s]
    sub = os.path.basename(args.sweep) + (": " + ", ".join(fixed) if fixed else "")
    if shared:
        sub += f"; mean of up to {count.max()} rows per cell"
    ax.set_title(f"{args.value}, {which}\n" + "\n".join(textwrap.wrap(sub, 70)), fontsize=10)
    df.save(fig, args.output)


if __name__ == "__main__":
    df.run(main)
