"""Rich tables of the data commands: ``fetch``, ``samples`` and ``prepare``
(primitives and the width rules in :mod:`lstmfc.cli.render`)."""

from __future__ import annotations

from lstmfc.cli.render import DATE_WIDTH, Grid, fmt, message, stdout_console


# ======================================================================= data
def render_fetch(results: list[dict]) -> None:
    out = stdout_console()
    g = Grid("Stored daily OHLCV").columns_of(
        ("ticker", "rows", "first", "last", "source", "status"),
        right=False,
        first=DATE_WIDTH,
        last=DATE_WIDTH,
    )
    for r in results:
        status = r["status"] + (f" (+{r['new_rows']})" if r["status"] == "updated" else "")
        if r.get("dropped_missing"):
            status += f", {r['dropped_missing']} missing days dropped"
        if r.get("close_only"):
            status += ", close only"
        g.row(r["ticker"], r["rows"], r["first"], r["last"], r["source"], status)
    g.show(out)
    for r in results:
        message(out, "File:", str(r["path"]))


def render_samples(samples: dict) -> None:
    g = Grid("Bundled samples (lstmfc fetch NAME --source sample)").columns_of(
        ("ticker", "description", "first", "last", "rows", "source"),
        right=False,
        first=DATE_WIDTH,
        last=DATE_WIDTH,
    )
    for name, s in samples.items():
        g.row(name, s["description"], s["first_date"], s["last_date"], s["rows"], s["source"])
    g.show(stdout_console())


def render_prepare(meta: dict, where: str) -> None:
    out = stdout_console()
    t = meta["ticker"]
    g = Grid(
        f"{t}: {meta['n_windows']} windows of {meta['lookback']} rows x "
        f"{len(meta['feature_names'])} features, horizon {meta['horizon']}"
    ).columns_of(
        ("split", "windows", "share", "first target", "last target", "end rows", "out of range"),
        **{"first target": DATE_WIDTH, "last target": DATE_WIDTH},
    )
    for name in ("train", "val", "test"):
        s = meta["split"][name]
        g.row(
            name,
            s["n"],
            f"{100 * s['n'] / meta['n_windows']:.1f}%",
            s["start"],
            s["end"],
            f"{s['first_row']}..{s['last_row']}",
            fmt(s.get("out_of_range_share"), ".1f", 100, "%"),
        )
    g.show(out)
    sc = meta["scaler"]
    message(
        out,
        "Scaler:",
        f"MinMax, fit on the training inputs only: rows {sc['fit_rows'][0]}..{sc['fit_rows'][1]}"
        f" ({sc['fit_start_date']} to {sc['fit_end_date']})",
    )
    st = Grid().columns_of(("feature", "data_min", "data_max"))
    for name, lo, hi in zip(sc["feature_names"], sc["data_min"], sc["data_max"], strict=True):
        st.row(name, f"{lo:.6g}", f"{hi:.6g}")
    st.show(out)
    message(
        out,
        "Data:",
        f"{meta['n_rows']} rows {meta['first_date']} to {meta['last_date']} "
        f"({meta['warmup_rows_dropped']} warm-up rows dropped)",
    )
    message(out, "Wrote:", where)
