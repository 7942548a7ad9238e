"""Anomalies: reconstruction error as an anomaly score, a threshold you move, and how well it finds the truth."""

import streamlit as st

from ae_core.errors import InputError
from ae_core.links import Choice, Number
from ui import access, links, state

PENDING = "anomaly_pending_run"
SWITCH_TO = "anomaly_switch_to"

st.title("Anomaly detection")
state.how_it_works(
    """
**In plain words.** An autoencoder learns to rebuild the kind of data it was trained on. Rows that look like
that data come back almost unchanged; unusual rows (faults, fraud, a digit it never saw) come back wrong.
So the reconstruction error is an *anomaly score*: draw a line (the threshold) and flag every row above it.

**The formula.** For a row $x$ with reconstruction $\\hat{x}$ and $d$ features,
$\\mathrm{score}(x) = \\frac{1}{d}\\lVert x - \\hat{x} \\rVert^2$. Flag when $\\mathrm{score}(x) > t$, with $t$ either

- the *p*-th **percentile of the validation rows' scores**: normal rows held out from training (p = 99 flags
  about 1% of new normal rows; training rows would set it too low, as the model has seen them), or
- set by an expected **contamination** *c*: $t$ is the $(1-c)$ quantile of all scores, so a share *c* is flagged.

**Better scores.** *Normalised*: each feature's squared error divided by its usual size on held-out rows,
$\\frac{1}{d}\\sum_j (x_j - \\hat{x}_j)^2 / \\sigma_j^2$, so a pixel the model always gets a little wrong (an edge)
counts less than one it normally rebuilds well. *+ distance to the nearest training rows*: a row can be rebuilt
well and still sit where no training row does; the mean distance from its code to its 5 nearest training codes is
added, and the same distance in each hidden layer of the encoder, which keeps more of what tells rows apart than
the code (each term divided by its spread on held-out rows). The plain reconstruction error stays one choice away.

**When the truth is known** (labelled outliers, or a *one-class* run trained on some classes only, where every
other class counts as an anomaly) the ROC curve plots the true-positive rate against the false-positive rate for
every possible threshold, and the precision-recall curve shows what share of the flags are right. AUC 1 is perfect,
0.5 is a coin toss; the PR curve's random baseline is the share of anomalies.
"""
)

runs = state.finished_runs_or_stop("No finished runs yet. Train one first; the *Sensors with outliers* dataset has "
                                   "labelled outliers, and any labelled dataset can be trained on its normal classes "
                                   "only from this page.")

from ae_core.analysis import anomaly as an  # noqa: E402 - imports torch; only once there is a run to look at
from ae_core.figures import anomaly as anf  # noqa: E402
from ae_core.runs.spec import one_class_setup  # noqa: E402
from ae_core.runs.summary import progress_view  # noqa: E402

PICKER = "anomaly_run_picker"
SCORE_TITLES = {"reconstruction": "reconstruction error", "normalized": "reconstruction error per feature, normalised",
                "normalized+knn": "normalised error + distance to the nearest training codes",
                "normalized+knn+hidden": "normalised error + distance to the nearest training rows, in the code and "
                                         "in each hidden layer of the encoder"}
if st.session_state.get(SWITCH_TO):  # a one-class run just finished: show it (before the picker is drawn)
    st.session_state[PICKER] = st.session_state.pop(SWITCH_TO)
    state.select_run(st.session_state[PICKER])
rec = state.run_picker(runs, key=PICKER)
run = state.loaded_run_or_stop(rec)


@st.cache_data(show_spinner="Scoring every row…", max_entries=16)
def _scores(_run, run_id: str, method: str):
    return an.run_scores(_run, method)


method = state.kept_choice(st.selectbox, "Anomaly score", list(an.SCORES), an.DEFAULT_SCORE, "anomaly_score",
                           format_func=SCORE_TITLES.get,
                           help="Reconstruction error is the plain score; the default also weighs each feature by how "
                                "well the model usually rebuilds it and adds how far the row is from its nearest "
                                "training rows, in the code and in each of the encoder's wider hidden layers.")
st.caption(f"Score in use: **{SCORE_TITLES[method]}**" + (" (the default: it found the known anomalies best on "
           "Fashion-MNIST; benchmarks/FINDINGS.md)" if method == an.DEFAULT_SCORE else "") + ".")
errors, split = _scores(run, rec.id, method), run.split
truth = an.anomaly_truth(run)
normal = an.normal_classes(run)
names = list(run.dataset.class_names or [])
if normal:
    st.caption("One-class run: trained on " + ", ".join(names[c] for c in normal) + " only; every other class is an anomaly.")

# ---- threshold -------------------------------------------------------------------------------
link = {"by": Choice(("percentile", "contamination"), "percentile"), "pct": Number(80.0, 99.9, 99.0, step=0.1),
        "share": Number(0.1, 20.0, 3.0, step=0.1)}
shared = links.read(link)  # a shared link's threshold; the session's own wins once it has moved the slider
how = state.kept_choice(st.radio, "Set the threshold by", ["percentile", "contamination"], shared["by"], "anomaly_how",
                        horizontal=True, format_func={"percentile": "percentile of the validation rows",
                                                      "contamination": "expected contamination"}.get)
if how == "percentile":
    pct = state.kept_widget(st.slider, "Percentile of the validation rows' scores", shared["pct"], "anomaly_pct", min_value=80.0,
                            max_value=99.9, step=0.1,
                            help="Rows scoring above this percentile of the validation rows' scores (normal rows held out "
                                 "from training) are flagged.")
else:
    pct = state.kept_widget(st.slider, "Expected share of anomalies (%)", shared["share"], "anomaly_contamination",
                            min_value=0.1, max_value=20.0, step=0.1)
links.write({"by": how, "pct" if how == "percentile" else "share": pct}, link)
threshold = an.threshold_for(errors, split, how, pct)
flags = an.flag(errors, threshold)
test = an.held_out_rows(split)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Threshold (score)", f"{threshold:.4g}")
m2.metric(f"Flagged of {len(flags):,} rows", f"{flags.sum():,}")
m3.metric(f"Flagged of {len(test):,} test rows", f"{flags[test].sum():,}")
if truth is not None:
    cc = an.confusion_counts(flags[test], truth[test])
    m4.metric(f"Caught of {cc['tp'] + cc['fn']:,} known (test)", f"{cc['tp']:,}",
              help=f"On the test rows: recall {cc['recall']:.0%} (known anomalies flagged), precision "
                   f"{cc['precision']:.0%} (flags that are known anomalies; {cc['fp']} false alarms).")

group_opts = ["split", "class"] if names else ["split"]
g1, g2 = st.columns([3, 1])
group = state.kept_choice(g1.radio, "Colour the histogram by", group_opts, "split", "anomaly_group", horizontal=True)
log_x = state.kept_widget(g2.toggle, "Log scale", True, "anomaly_log")
st.plotly_chart(anf.error_histogram_figure(an.error_histogram_frame(run, group, scores=errors), threshold, log_x,
                                           score_title=SCORE_TITLES[method]), key="anomaly_hist")

# ---- ROC / PR ---------------------------------------------------------------------------------
graded = an.graded_truth(truth, split)
if graded is not None:
    st.subheader("How well does the score find the known anomalies?")
    curves = an.roc_pr(errors[test], graded)
    r1, r2 = st.columns(2)
    r1.plotly_chart(anf.roc_figure(curves), key="anomaly_roc")
    r2.plotly_chart(anf.pr_figure(curves), key="anomaly_pr")
    st.caption(f"On the {curves['n']:,} test rows, {curves['prevalence']:.1%} of them anomalies. "
               f"ROC AUC {curves['roc_auc']:.3f}, average precision {curves['pr_auc']:.3f}.")


# ---- one-class setup --------------------------------------------------------------------------
@st.fragment(run_every=1.0)
def _pending(run_id: str) -> None:
    r = state.store().get(run_id)
    if r.status == "done":
        st.session_state.pop(PENDING, None)
        st.session_state[SWITCH_TO] = run_id
        st.rerun(scope="app")
    elif r.active:
        view = progress_view(r.progress, r.status)
        st.progress(view.fraction, text=f"One-class run {run_id[:6]}: {view.headline}")
    else:
        st.session_state.pop(PENDING, None)
        st.error(f"The one-class run {r.status}: {r.error.splitlines()[0] if r.error else 'no reason given'}")


if len(names) >= 2 and access.is_editor():  # it starts a run
    with st.expander("Train on normal classes only (one-class setup)", expanded=bool(st.session_state.get(PENDING))):
        st.markdown("Pick the classes that count as *normal*. A new run trains on them alone; every other class is "
                    "held out as an anomaly, so the ROC curve above shows how well it spots classes it never saw.")
        with st.form("one_class"):
            chosen = st.multiselect("Normal classes", names, default=names[:1])
            submitted = st.form_submit_button("Train one-class run", icon=":material/play_arrow:")
        if submitted:
            try:
                spec = rec.config["dataset"]
                config = one_class_setup(spec["name"], chosen, rec.config.get("variant", "vanilla"),
                                            dataset_options=spec.get("options"), model=rec.config.get("model"),
                                            train=rec.config.get("train"))
                st.session_state[PENDING] = state.manager().submit(config, title="one-class").id
            except InputError as exc:
                st.error(str(exc))
        if st.session_state.get(PENDING):
            _pending(st.session_state[PENDING])

# ---- most anomalous ---------------------------------------------------------------------------
st.subheader("The most anomalous rows")
top = an.most_anomalous(run, 16, scores=errors)
if run.dataset.kind == "image":
    from ae_core.figures.images import image_grid

    imgs = run.X[top["row"].to_numpy()].reshape(-1, *run.dataset.image_shape)
    st.plotly_chart(image_grid(imgs, titles=an.tile_titles(top), ncols=8), config={"displayModeBar": False}, key="anomaly_top")
    st.caption("Highest scores first; each title is the score and the class.")
else:
    st.dataframe(top, hide_index=True, column_config={"score": st.column_config.NumberColumn(format="%.4f"),
                                                      "worst_features": st.column_config.TextColumn("Worst features", width="large")})
    st.caption("Worst features: the readings the autoencoder rebuilt least well, with the value and its reconstruction.")
csv = an.flagged_csv(run, threshold, scores=errors)
st.download_button(f"Download the {flags.sum():,} flagged rows (CSV)", csv, file_name=f"anomalies_{rec.id}.csv",
                   mime="text/csv", icon=":material/download:", disabled=not flags.any())

# ---- the code, coloured by score --------------------------------------------------------------
st.subheader("Where the anomalies sit in the code")
coords, note = an.scatter_coordinates(run)
st.plotly_chart(anf.score_scatter_figure(coords, errors, flags, an.row_hover(run, scores=errors), axis_note=note), key="anomaly_scatter")
st.caption(f"Axes: {note}. Colour: log10 of the score; red rings: rows above the threshold (they follow the slider).")
