"""Upload data (a table or a zip of images): see what preparation does to it, train a quick 2-D autoencoder, download
the coordinates."""

import numpy as np
import streamlit as st

from ae_core.data.server_files import data_dir, list_server_tables
from ae_core.errors import InputError
from ae_core.figures import images as pictures
from ae_core.runs import every_row, upload
from ae_core.runs.summary import training_facts
from ui import state
from ui.run_panel import run_progress_panel
from ui.scatter import scatter

PICKER_KEY = "upload_run_picker"
NONE = "(none)"


@st.cache_data(show_spinner="Reading your file…", max_entries=32)
def _inspect(path: str, label: str | None) -> upload.Inspection:
    """Keyed by the stored file's path, which is the sha256 of its bytes."""
    return upload.inspect_upload(path, label)


def _stored_path(chosen: upload.ChosenFile) -> str:
    """Save the upload once per file (not on every rerun) and remember where."""
    if chosen.in_place is not None:
        return str(chosen.in_place)  # a server table: read where it lies
    file = chosen.file
    saved = st.session_state.get("upload_saved")
    if not saved or saved[0] != file.file_id:
        path = state.save_upload(file.name, file.getvalue())  # refused for viewers
        st.session_state["upload_saved"] = saved = (file.file_id, str(path))
    return saved[1]


@st.cache_data(show_spinner="Reading your images…", max_entries=16)
def _inspect_images(path: str, side: int | None, colour: str) -> upload.ImageInspection:
    """Keyed by the stored zip's path (its sha256) and the two choices."""
    return upload.inspect_images(path, side, colour)


def _image_upload(path: str, file_name: str) -> None:
    """A zip of images: side and colour, what preparation did, a few prepared images, then Train."""
    left, right = st.columns(2)
    side = left.number_input("Square side in pixels (8-128)", min_value=8, max_value=128, value=None, step=4,
                             placeholder="from the images", key=f"upload_side_{path[-20:]}",
                             help="Every image is centre-cropped to a square and resized to this side. Empty: the most "
                                  "common images' smaller side, at most 64. Larger is sharper and slower to train.")
    colour = right.segmented_control("Colour", ["auto", "grayscale", "rgb"], default="auto",
                                     key=f"upload_colour_mode_{path[-20:]}",
                                     help="auto keeps colour when any image has it. Grayscale trains faster.") or "auto"
    found = _inspect_images(path, int(side) if side else None, colour)
    if found.error:
        st.error(found.error, icon=":material/error:")
        return
    st.subheader("What preparation did")
    overview = st.container(horizontal=True, gap="large")  # each metric as wide as its value: none cut off
    for name, value in upload.image_overview(found.report):
        overview.metric(name, value, width="content")
    for line in found.report.summary_lines():
        st.text(line)
    if found.report.skipped:
        with st.expander(f"Files skipped ({len(found.report.skipped):,})"):
            st.dataframe(upload.skipped_table(found.report), hide_index=True)
    st.plotly_chart(pictures.image_grid(found.preview, list(found.preview_titles), ncols=12, cell_px=64),
                    config={"displayModeBar": False}, key="upload_image_preview")
    if st.button("Train", type="primary", icon=":material/play_arrow:", key="upload_train_images"):
        try:
            with st.spinner("Preparing the run…"):
                config = upload.quick_image_config(path, int(side) if side else None, colour, upload.display_name(file_name))
            rec = state.manager().submit(config)  # refused for viewers and past the start limit
        except InputError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            state.follow_run(PICKER_KEY, rec.id)
            st.toast("Training started: follow it under Result below.", icon=":material/rocket_launch:")
    st.caption("Trains a convolutional autoencoder with a 2-D code (at most 40 epochs or 2 minutes) in the background. "
               "Then hover the points on the Latent space page to see each picture. For another variant or other "
               "settings, choose these images on the Train page (listed as “Your images: …” once uploaded).")


@st.cache_data(show_spinner=False, max_entries=8)
def _hover(_run, run_id: str):
    return upload.hover_columns(_run)


@st.cache_resource(show_spinner="Making the thumbnails…", max_entries=4)
def _atlas(_run, run_id: str, stamp: float):
    """An image run's pictures as one sprite sheet (kept in its folder): hover shows them without a request."""
    from ae_core.analysis.atlas import cached_atlas

    return cached_atlas(_run)


def _scatter(xy, colour, hover, title: str, axes: tuple[str, str], by: str, key: str, cache_key, atlas=None) -> list[int]:
    """The Latent page's WebGL scatter (lasso, box, click, hover with the file's row, or the picture): the selected
    positions."""
    columns, note = hover
    return scatter(xy, colour, key=key, rows=np.arange(len(xy)), hover_columns=dict(columns.items()), hover_digits=6, note=note,
                   title=title, colour_title=by, axis_titles=axes, height=460, view=key, file_name=key,
                   cache_key=cache_key, atlas=atlas)


@st.cache_data(show_spinner="Writing the CSV…", max_entries=4)
def _csv(_run, run_id: str, projections: tuple[str, ...]) -> bytes:
    return upload.coordinates_csv(_run)


st.title("Upload your data")
st.markdown("Reduce **your own table** (CSV or Parquet) or **your own images** (a zip) to two dimensions with a small "
            "autoencoder, see it next to PCA of the same rows, and download the coordinates joined to your rows.")
state.how_it_works(
    """
**What happens to your file.** It is read whatever its encoding (UTF-8, Excel's Windows-1252, UTF-16) and
delimiter (comma, semicolon, tab, pipe). Numbers written as text (`$1,234`, `12%`, `1.234,5`) become numbers;
columns with few distinct values (up to 10) become one 0/1 indicator per value (*one-hot*). Columns that cannot
help are dropped, with the reason shown: ids (a different value in every row), constants, free text, empty
columns. Rows with no usable value are dropped; every other row keeps its row number from your file.
The file is stored on this server under its content hash, so a run can read it again; its name is only shown.

**Why scaling and imputation.** The model compares columns by squared error, so each feature is
*standardised* (mean 0, standard deviation 1, fitted on the training rows): otherwise a column in dollars
would drown one in percent. Missing cells are filled with the column's median on the training rows, so the
held-out rows never influence the filling.

**What the two axes mean.** The encoder maps each row $x$ to a 2-number code $z = f_\\theta(x)$ from which the
decoder must rebuild all of $x$. Rows the model finds alike get nearby codes; clusters, gradients and outliers
you see are real structure *as far as rebuilding the features is concerned*. The axes themselves have no units
and no fixed meaning: another seed can rotate, flip or stretch the picture, and distances between far-apart
groups are not to scale. PCA on the right is the linear baseline: its axes are the two directions of largest
variance. *Reconstruction error* colours rows the model rebuilds badly: candidates for anomalies.
"""
)

# ---- 1. the file ----------------------------------------------------------------------------------
limit_mb = st.get_option("server.maxUploadSize")
uploaded = st.file_uploader(
    f"CSV or Parquet file, or a zip of images (up to {limit_mb} MB)", type=["csv", "tsv", "txt", "parquet", "zip"],
    key="upload_file",
    help="A CSV: a header row and at least 10 data rows, with at least 2 numeric columns (Excel: File > Save As > "
         "CSV UTF-8). A zip: PNG, JPEG, WebP, BMP or GIF images, one sub-folder per class (or all in one folder).",
)
# Each picker shows while the ones above it are empty: an upload wins, then a sample, then a server table.
sample = picked = None
if uploaded is None:  # nothing of their own yet: a shipped sample goes through the same steps as an upload
    sample = st.segmented_control("…or try a sample", list(upload.SAMPLES), key="upload_sample",
                                  format_func=lambda k: upload.SAMPLES[k].title,
                                  help=" ".join(f"{s.title}: {s.about}" for s in upload.SAMPLES.values()))
if uploaded is None and not sample and (tables := list_server_tables()):  # too big for a browser, on the server
    picked = st.selectbox("…or a table on the server", [NONE, *tables], key="upload_server_table",
                          help=f"CSV and Parquet files in the server's data folder ({data_dir()}; set "
                               "AE_DATA_DIR to move it): for tables too big to upload through a browser.")
chosen = upload.choose_file(uploaded, sample, None if picked == NONE else picked)
if chosen.error:
    st.error(chosen.error, icon=":material/error:")
if chosen.kind is None:
    st.info("Choose a CSV file or a zip of images to start, or try a sample. Nothing is trained until you press "
            "**Train**.", icon=":material/upload_file:")
elif chosen.kind == "images":
    _image_upload(_stored_path(chosen), chosen.file.name)
else:
    path = _stored_path(chosen)
    base = _inspect(path, None)
    if not base.columns:
        st.error(base.error, icon=":material/error:")
    else:
        options = [NONE, *base.columns]
        label = st.selectbox(
            "Label / colour column (optional)", options, key=f"upload_label_{path[-20:]}",
            index=options.index(chosen.label_in(base.columns) or NONE),  # a sample's label column, if it has one
            help="A column you already know, such as a class: it colours the plot and is not used for training.",
        )
        label = None if label == NONE else label
        found = base if label is None else _inspect(path, label)
        if found.error:
            st.error(found.error, icon=":material/error:")
        else:
            st.subheader("What preparation did")
            overview = st.container(horizontal=True, gap="large")  # each metric as wide as its value: none cut off
            for name, value in upload.report_overview(found.report):
                overview.metric(name, value, width="content")
            st.dataframe(upload.column_table(found.report, found.columns), hide_index=True,
                         column_config={"column": st.column_config.TextColumn(width="small"),
                                        "used as": st.column_config.TextColumn(width="small"),
                                        "why / how": st.column_config.TextColumn(width="large")})
            for note in found.report.notes:
                st.text(f"Note: {note}.")
            with st.expander("First rows as read"):
                st.dataframe(found.preview)
            if st.button("Train", type="primary", icon=":material/play_arrow:", key="upload_train"):
                try:
                    with st.spinner("Preparing the run…"):
                        config = upload.quick_config(path, label, upload.display_name(chosen.file.name))
                    rec = state.manager().submit(config)  # refused for viewers and past the start limit
                except InputError as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    state.follow_run(PICKER_KEY, rec.id)  # the picker below shows the new run
                    st.toast("Training started: follow it under Result below.", icon=":material/rocket_launch:")
            st.caption("Trains a plain autoencoder with a 2-D code (at most 40 epochs or 2 minutes) in the background; "
                       "you can leave this page meanwhile.")

# ---- 2. the result ------------------------------------------------------------------------------
runs = [r for r in state.store().list(limit=200) if upload.is_upload_run(r)]
if runs:
    st.divider()
    st.subheader("Result")
    rec = state.run_picker(runs, label="Upload run", key=state.picker_key(PICKER_KEY), where=st)
    rec = run_progress_panel(rec.id) if rec is not None else None
    if rec is not None and rec.status == "done":
        run = state.loaded_run_or_stop(rec)
        ds = run.dataset
        from ae_core.analysis.metrics import describe_ratio
        from ae_core.analysis.projection import cached_projection, project

        m = rec.metrics or {}
        if "ae_pca_ratio" in m:
            st.markdown(f"**{describe_ratio(float(m['ae_pca_ratio']))}**")
        st.caption(" · ".join(f"{k}: {v}" for k, v in training_facts(m)))
        left, right = st.columns(2)
        by = left.selectbox("Colour by", upload.colour_options(run), key=f"upload_colour_{rec.id}")
        method = right.segmented_control("Compare with (computed on the input)", ["PCA", "UMAP"], default="PCA",
                                         key=f"upload_method_{rec.id}") or "PCA"
        colour, _kind = upload.colour_values(run, by)
        hover = _hover(run, rec.id)
        left, right = st.columns(2)
        stamp = rec.finished or rec.updated
        pictures = (lambda: _atlas(run, rec.id, stamp)) if ds.image_shape is not None else None  # made when wanted
        drawn = every_row.rows_drawn(ds, state.every_rows(run, rec), beside=method)  # a sampled big table: every row
        every = drawn.every
        picked_rows = []
        with left:
            if every is not None:
                labels = every.labels() if by == upload.label_column(run) else None
                picked_rows = scatter(
                    project(every.latent, "latent", 2), labels, key=f"upload_code_all_{rec.id}", rows=every.rows,
                    n_rows=int(every.rows.max(initial=0)) + 1, hover_columns={"row": every.rows}, hover_digits=6,
                    title=f"Autoencoder code (2-D), all {len(every):,} rows", colour_title=by if labels is not None else "",
                    axis_titles=("code 1", "code 2"), height=460, view=f"upload_code_all_{rec.id}",
                    file_name=f"upload_code_all_{rec.id}", cache_key=("upload-all", rec.id, stamp, labels is not None))
                picked = []
            else:
                picked = _scatter(project(run.latent, "latent", 2), colour, hover, "Autoencoder code (2-D)",
                                  ("code 1", "code 2"), by, f"upload_code_{rec.id}", ("upload", rec.id, stamp, "code", by),
                                  pictures)
        with right:
            coords = upload.input_coordinates(run, method.lower())
            if coords is None:
                st.caption("UMAP is slower (the first time about a minute) and, like the code, has no fixed axes.")
                if st.button("Compute UMAP", key=f"upload_umap_{rec.id}", icon=":material/scatter_plot:"):
                    with st.spinner("UMAP of the input…"):
                        cached_projection(run.store, rec.id, run.X, "umap", 2, source="input", umap=state.umap_fit())
                    st.rerun()
            else:
                picked += _scatter(coords, colour, hover, f"{method} of the input (2-D)", (f"{method} 1", f"{method} 2"),
                                   by, f"upload_{method}_{rec.id}", ("upload", rec.id, stamp, method, by), pictures)
        st.caption(drawn.caption or f"{ds.n_samples:,} rows. Hover a point to see its row from your file; drag a lasso "
                   "(or a box: toolbar) around points to list those rows below; click legend entries to hide or show "
                   "a group.")
        if picked_rows:
            shown = every_row.selection_frame(every, picked_rows, limit=1000)
            st.subheader(f"{len(picked_rows):,} rows of the file selected"
                         + (f" (first {len(shown):,} listed)" if len(picked_rows) > len(shown) else ""))
            st.dataframe(shown, hide_index=True)
        if picked := sorted(set(picked)):
            st.subheader(f"{len(picked):,} selected")
            st.dataframe(hover[0].iloc[picked], hide_index=True)
        st.download_button(
            "Download coordinates with your rows (CSV)", _csv(run, rec.id, upload.computed_projections(run)),
            file_name=f"{upload.display_name(ds.name)}-coordinates.csv", mime="text/csv",
            icon=":material/download:", on_click="ignore", key=f"upload_download_{rec.id}",
        )
        st.caption("One line per row used: `row` (its position in your file, first data row = 0), `ae_1`, `ae_2` "
                   "(the code), PCA/UMAP where computed, reconstruction error, split, then your columns.")
        if upload.trained_on_a_sample(run):  # the download above has the rows trained on; this one every row
            if st.button("Encode every row of the file", icon=":material/table_rows:", key=f"upload_every_{rec.id}"):
                try:
                    with st.spinner("Encoding every row, a chunk at a time…"):
                        st.session_state[f"upload_every_csv_{rec.id}"] = upload.every_row_csv(run)
                except InputError as exc:
                    st.error(str(exc), icon=":material/error:")
            if (every := st.session_state.get(f"upload_every_csv_{rec.id}")) is not None:
                st.download_button("Download every row's code (CSV)", every, mime="text/csv",
                                   file_name=f"{upload.display_name(ds.name)}-every-row.csv",
                                   icon=":material/download:", on_click="ignore", key=f"upload_every_dl_{rec.id}")
elif chosen.file is None:
    st.caption("Earlier CSV runs appear here; runs on built-in datasets are on the Train page.")
