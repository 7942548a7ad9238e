"""Latent space: the code of every sample, what the decoder makes of the plane,
and how the code formed during training."""

from functools import partial

import streamlit as st

from ae_core.analysis import latent as lat
from ae_core.analysis.projection import METHOD_TITLES, cached_projection, subsample_note
from ae_core.figures import common as plots
from ae_core.figures import images as pictures
from ae_core.links import Choice, Rows
from ae_core.runs import every_row
from ui import access, links
from ui.run_panel import run_progress_panel
from ui.scatter import pick_point, picked_point, scatter
from ui.state import (
    every_rows,
    how_it_works,
    loaded_run_or_stop,
    run_picker,
    store,
    umap_fit,
    visible,
)

st.title("Latent space")
runs = visible(store().list())  # a viewer's: the finished ones
if not runs:
    st.info("No runs yet. Train an autoencoder first — the default (digits, vanilla, 2-D code) takes seconds.")
    if access.is_editor():  # viewers have no Train page
        st.page_link("app_pages/train.py", label="Train a model", icon=":material/model_training:")
    st.page_link("app_pages/home.py", label="What this app does", icon=":material/home:")
    st.stop()

rec = run_picker(runs)

if rec.status != "done":
    run_progress_panel(rec.id)  # live while it trains; the reason when it failed or was cancelled
    if rec.active:
        st.caption("The latent space appears here when training finishes.")
    st.stop()

run = loaded_run_or_stop(rec)
D, ds = run.model_config.latent_dim, run.dataset
is_image = ds.image_shape is not None
stamp = rec.finished or rec.updated  # a retrained run gets new arrays (as ui.state.loaded_run)
NO_COLOUR = "none"


@st.cache_data(show_spinner=False, max_entries=4)
def _frame(_run, run_id: str, stamp: float):
    """The per-row table (row, code, label, split, error, data columns): built once per run, not per rerun."""
    return lat.latent_frame(_run)


@st.cache_data(show_spinner=False, max_entries=8)
def _plane_picture(_run, run_id: str, stamp: float, z_range, n: int):
    """The decoder's n x n grid as one PNG in data coordinates: the same for every rerun that moves only
    the z1/z2 sliders."""
    plane = lat.decode_plane(_run.decoder, z_range, n)
    return pictures.plane_picture(plane.reshape(n, n, *_run.dataset.image_shape), *lat.plane_values(z_range, n))


@st.cache_resource(show_spinner="Making the thumbnails…", max_entries=4)
def _atlas(_run, run_id: str, stamp: float):
    """Every image of the run and its reconstruction as one sprite sheet, built once and kept in the run's folder:
    the scatter shows a hovered point's pictures from it without asking the server."""
    from ae_core.analysis.atlas import cached_atlas

    return cached_atlas(_run)


@st.cache_data(show_spinner=False, max_entries=4)
def _every_coords(_every, run_id: str, stamp: float, method: str):
    """Every row's 2-D coordinates: the code itself, or its PCA (linear: fitted on every row in a moment)."""
    from ae_core.analysis.projection import project

    return project(_every.latent, method, 2)


frame = _frame(run, rec.id, stamp)
every = every_rows(run, rec)  # None unless it trained on a sample of its table
# The view is in the URL (besides ?run=): a link opens this projection, colouring, 2-D/3-D and selection.
methods, colours = list(lat.projection_choices(D)), list(lat.colour_choices(frame))
link = {"proj": Choice(tuple(methods), methods[0]), "colour": Choice(tuple(colours), colours[0]), "sel": Rows(int(frame["row"].max()) + 1)}
shared = links.read(link)
c1, c2, c3 = st.columns(3)
method = c1.selectbox("Projection", methods, index=methods.index(shared["proj"]), format_func=METHOD_TITLES.get,
                      key=f"lat_method_{rec.id}", help="With a code of 3 or fewer dimensions you can draw the code itself.")
link["dims"] = Choice(tuple(lat.dims_choices(method, D)), 2)
dims = c2.segmented_control("View", link["dims"].options, default=links.read(link)["dims"], format_func=lambda k: f"{k}-D",
                            key=f"lat_dims_{rec.id}_{method}") or 2
drawn = every_row.rows_drawn(ds, every, method, dims)  # every row of the file, or the rows trained on
all_rows = drawn.every is not None
if all_rows:  # what it knows of every row is its code and its label, so those are its colours
    colours = [lat.LABEL] if every.label_codes is not None else [NO_COLOUR]
colour = c3.selectbox("Colour by", colours, index=colours.index(shared["colour"]) if shared["colour"] in colours else 0,
                      key=f"lat_colour_{rec.id}" + ("_all" if all_rows else ""))
if drawn.caption:
    st.caption(drawn.caption)

status = st.empty()  # what a slow projection (UMAP, t-SNE) is doing, while it runs


def _say(message: str, fraction: float | None = None) -> None:
    if fraction is None:
        status.caption(message)
    else:
        status.progress(fraction, text=message)


with st.spinner(f"Projecting {len(run.latent):,} codes with {METHOD_TITLES[method]}…"):
    coords = cached_projection(store(), rec.id, run.latent, method, dims, progress=_say, umap=umap_fit())
status.empty()
if note := subsample_note(method, len(coords)):
    st.caption(note)
axes = [f"z{j + 1}" for j in range(dims)] if method == "latent" else [f"{METHOD_TITLES[method]} {j + 1}" for j in range(dims)]
hover = lat.hover_columns(frame)
title = f"{ds.title or ds.name}: {D}-D code, {METHOD_TITLES[method]}"


def plotly_figure():
    """The same view as a Plotly figure: the 3-D view, and the HTML download."""
    return plots.latent_scatter(coords, frame.get(colour), customdata=frame["row"].to_numpy(), hover_columns=hover,
                                title=title, color_title=colour, axis_titles=tuple(axes),
                                equal_aspect=method in ("latent", "pca"))


if all_rows:
    # Every row of the file (a million is fine: ui/scatter.js draws a density where they pile up); the selection
    # is row numbers in the file.
    labels = every.labels()
    rows = scatter(_every_coords(every, rec.id, stamp, method), labels, key=f"lat_points_all_{rec.id}",
                   rows=every.rows, n_rows=int(every.rows.max(initial=0)) + 1,
                   hover_columns={"row": every.rows} | ({lat.LABEL: labels} if labels is not None else {}),
                   title=f"{ds.title or ds.name}: {D}-D code, {METHOD_TITLES[method]}, all {len(every):,} rows",
                   colour_title=colour if labels is not None else "", axis_titles=tuple(axes),
                   equal_aspect=True, view=f"{rec.id}/{method}/all", file_name=f"latent_{rec.id}_{method}_all",
                   cache_key=("latent-all", rec.id, stamp, method))
    st.caption("Drag a lasso (or a box: toolbar) around points to list those rows of your file; click the chart, "
               "then scroll to zoom (or hold Ctrl); double-click to see everything again; click a class in the legend "
               "to hide it.")
elif dims == 2:
    # Our WebGL component (ui/scatter.js): a new tab draws it without loading Plotly. The selection is kept per
    # run across projections and colourings, so a group picked in UMAP can be found again in PCA.
    rows = scatter(coords, frame[colour], key=f"lat_points_{rec.id}", rows=frame["row"].to_numpy(),
                   hover_columns=hover, title=title, colour_title=colour, axis_titles=tuple(axes),
                   equal_aspect=method in ("latent", "pca"), view=f"{rec.id}/{method}",
                   file_name=f"latent_{rec.id}_{method}", cache_key=("latent", rec.id, stamp, method, colour),
                   atlas=partial(_atlas, run, rec.id, stamp) if is_image else None,
                   initial=shared["sel"])
    st.caption("Drag a lasso (or a box: toolbar) around points to see those samples and their reconstructions; "
               "click a point to pick it, Shift adds to the selection. Click the chart, then scroll to zoom (or hold "
               "Ctrl); double-click to see everything again; click a class in the legend to hide it. The selection "
               "stays when you change the projection.")
else:
    event = st.plotly_chart(plotly_figure(), on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key="lat_scatter")
    st.caption("Drag a box or lasso around points (toolbar, top right) to see those samples and their "
               "reconstructions. Double-click the chart to clear.")
    rows = lat.rows_from_selection(event.selection if event else None)
links.write({"proj": method, "dims": dims, "colour": colour, "sel": rows if dims == 2 and not all_rows else ()}, link)

if rows and all_rows:
    shown = every_row.selection_frame(every, rows, limit=1000)
    st.subheader(f"{len(rows):,} rows of the file selected" + (f" (first {len(shown):,} listed)" if len(rows) > len(shown) else ""))
    st.dataframe(shown, hide_index=True)
elif rows:
    shown = min(len(rows), lat.MAX_SHOWN)
    st.subheader(f"{len(rows):,} selected" + (f" (first {shown} shown)" if len(rows) > shown else ""))
    if is_image:
        orig, rebuilt, titles, errors = lat.selection_images(run, rows)
        left, right = st.columns(2)
        left.markdown("**Originals**")
        left.plotly_chart(pictures.image_grid(orig, titles, ncols=8), key="sel_orig", width="content",
                          config={"displayModeBar": False})
        right.markdown("**Reconstructions** (number: reconstruction error)")
        right.plotly_chart(pictures.image_grid(rebuilt, errors, ncols=8), key="sel_rec", width="content",
                           config={"displayModeBar": False})
    else:
        st.dataframe(lat.compare_rows(run, rows), hide_index=True)


def _move_sliders(pick_key: str, k1: str, k2: str, z_range) -> None:
    """A click on the plane moves the z1/z2 sliders there (inside their range), before the rerun draws them."""
    got = picked_point(st.session_state.get(pick_key))
    if got is not None:
        for key, value, (lo, hi) in zip((k1, k2), got, z_range):
            st.session_state[key] = min(max(value, lo), hi)


def decode_the_plane():
    if D != 2:
        st.info(f"Decoding the plane needs a 2-D code; this run's code has {D} dimensions. Train with latent size 2.")
        return
    z_range = lat.latent_range(run.latent)
    (a, b), (c, d) = z_range
    p1, p2 = st.columns(2)
    z1 = p1.slider("z1", a, b, (a + b) / 2, key=f"lat_z1_{rec.id}")
    z2 = p2.slider("z2", c, d, (c + d) / 2, key=f"lat_z2_{rec.id}")
    if not is_image:
        st.caption("The decoded-plane picture is for image datasets. The decoder's output at the chosen point, "
                   "in the data's units:")
        st.dataframe(lat.decoded_row(run, [z1, z2]), hide_index=True)
        return
    point = lat.decode_point(run.decoder, [z1, z2])
    n = st.slider("Grid size", 5, 25, 15, key="lat_grid")
    left, right = st.columns([3, 1])
    with left:
        # Our chart, not Plotly's: the page's first view loads no Plotly at all (a new tab draws sooner).
        picture = _plane_picture(run, rec.id, stamp, z_range, n)
        (a1, b1), (a2, b2) = picture[1:]
        h, w = ds.image_shape[:2]
        square = (b1 - a1) * h / ((b2 - a2) * w)  # on-screen length of a z2 unit per z1 unit: square cells
        pick_point((z1, z2), picture, key=f"lat_pick_{rec.id}",
                   on_pick=partial(_move_sliders, f"lat_pick_{rec.id}", f"lat_z1_{rec.id}", f"lat_z2_{rec.id}", z_range),
                   title="What the decoder draws across the plane", axis_titles=("z1", "z2"), equal_aspect=square,
                   height=560, view=f"{rec.id}/plane/{n}", file_name=f"decoded_plane_{rec.id}")
    right.markdown(f"**Decoded at ({z1:.2f}, {z2:.2f})**")
    right.image(lat.as_thumbnail(point, ds.image_shape), width=220)
    st.caption("Each cell is what the decoder draws for that code. Click anywhere on the plane (or move the sliders) "
               "to decode that point: the red ring marks it. Smooth changes across the plane mean the code is "
               "continuous.")


def latent_evolution():
    evo = lat.evolution_frames(run, "latent" if D <= 2 else "pca")
    if evo is None:
        st.info("This run did not record its code during training.")
        return
    labels = ds.label_names()
    st.plotly_chart(plots.evolution_animation(evo.frames, evo.epochs, None if labels is None else labels[evo.index],
                                              title=f"{len(evo.index):,} samples, epoch 0 (untrained) to {evo.epochs[-1]}",
                                              color_title=lat.LABEL,
                                              axis_titles=("z1", "z2") if D <= 2 else ("PC 1 of the code", "PC 2")),
                    key="lat_evo")
    st.caption("Press Play or drag the epoch slider. Each frame is centred and scaled to the same size, so you see "
               "the shape forming rather than the code growing" + ("; a fixed PCA of the final code maps "
                                                                    "every epoch to 2-D." if D > 2 else "."))


def raw_input_comparison():
    st.caption("The same samples projected straight from the raw (scaled) input, without the autoencoder: "
               "if classes separate better in the code than here, the autoencoder learned something useful.")
    in_method = "umap" if st.toggle("Use UMAP instead of PCA (slower)", key="lat_in_umap") else "pca"
    with st.spinner(f"Projecting the raw input with {METHOD_TITLES[in_method]}…"):
        raw = cached_projection(store(), rec.id, run.X, in_method, 2, source="input", umap=umap_fit())
    keep = lat.view_rows(len(raw), lat.VIEW_MAX)
    if len(keep) < len(raw):
        st.caption(f"Both charts show the same random {len(keep):,} of the {len(raw):,} samples, to stay quick; "
                   "the main chart above shows them all.")
    left, right = st.columns(2)
    small = dict(customdata=frame["row"].to_numpy()[keep], hover_columns={k: v.iloc[keep] for k, v in hover.items()},
                 color_title=colour, height=460)
    name = METHOD_TITLES[in_method]
    left.plotly_chart(plots.latent_scatter(raw[keep], frame[colour].iloc[keep], legend=False, axis_titles=(
        f"{name} 1", f"{name} 2"), title=f"Raw input, {name}", dragmode="zoom", **small), key="lat_raw")
    right.plotly_chart(plots.latent_scatter(coords[keep, :2], frame[colour].iloc[keep], axis_titles=tuple(axes[:2]),
                                            title=f"Autoencoder code, {METHOD_TITLES[method]}", dragmode="zoom",
                                            **small), key="lat_code_small")


def download():
    st.download_button("Coordinates (CSV)", lambda: lat.safe_csv(lat.latent_frame(run, coords, method)),
                       f"latent_{rec.id}_{method}.csv", "text/csv", on_click="ignore", icon=":material/download:")
    st.download_button("Scatter (interactive HTML, works offline)",
                       lambda: plotly_figure().to_html(include_plotlyjs=True, full_html=True), f"latent_{rec.id}_{method}.html",
                       "text/html", on_click="ignore", icon=":material/download:")


# Only the open tab runs (on_change="rerun"): with 70,000 points the evolution and raw-input views are heavy.
VIEWS = {"Decode the plane": decode_the_plane, "Latent evolution": latent_evolution,
         "Raw input, for comparison": raw_input_comparison, "Download": download}
for tab, draw in zip(st.tabs(list(VIEWS), key="lat_tab", on_change="rerun"), VIEWS.values()):
    if tab.open:
        with tab:
            draw()

how_it_works("""
**A latent space** is where the encoder puts each input: its code `z = f(x)`. The decoder must rebuild `x` from
`z` alone, so similar inputs tend to get nearby codes. Colour the points by class: if classes form separate
clumps, the code captured what tells them apart — without ever seeing the labels.

**Why a 2-D code?** It can be drawn as it is, with nothing lost in the drawing, and every point of the plane can
be decoded ("Decode the plane"). Larger codes reconstruct better but must be projected to be seen.

**PCA, UMAP, t-SNE** squeeze a larger code into 2-D for the eye. PCA is linear and keeps global distances;
UMAP and t-SNE keep local neighbourhoods and often show clusters more clearly, but distances between clusters
mean little, and they have **no decoder**: they are for looking, not for compressing or generating.

**Trustworthiness** (0–1) asks whether the code's nearest neighbours were also neighbours in the input (1 = no
false neighbours). **kNN accuracy** is how often a 5-nearest-neighbour classifier on the code guesses the class
of held-out samples: a high value means the code is meaningful. Both are on the Train page, next to PCA's.
""")
