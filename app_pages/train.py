"""Train: pick a dataset and a variant, adjust the settings, start a run, watch it train."""

import streamlit as st

from ae_core.data.preview import dataset_facts, preview_table
from ae_core.data.registry import DEFAULT_DATASET, REGISTRY
from ae_core.errors import InputError
from ae_core.figures.images import image_grid
from ae_core.figures.training import sample_grid_figure
from ae_core.model.config import NOISE_KINDS, PRESETS, conv_channels_for, parse_sizes, variant_problem
from ae_core.runs.image_sets import image_sets
from ui import state
from ui.run_panel import run_progress_panel, run_result

PICKER_KEY = "train_run_picker"


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def _dataset(name: str, options: dict | None = None):
    """A built-in dataset or a person's image set, shared read-only by every session (mnist is 200 MB as floats)."""
    from ae_core.data.registry import load_dataset

    return load_dataset(name, **dict(options or {}))


@st.cache_data(show_spinner=False, max_entries=16)
def _defaults(name: str, options: dict | None = None, variant: str = "vanilla") -> dict:
    from ae_core.runs.spec import dataset_defaults

    return dataset_defaults(_dataset(name, options), variant)


st.title("Train an autoencoder")
state.how_it_works(
    """
**What happens when you press Start.** The data are split 70/15/15 into training, validation and test rows;
the scaler is fitted on the training rows only. The model trains in a background process, so you can leave
this page. It starts from the training rows' average: the decoder's output begins at the mean input and the
encoder's first layer sees inputs centred on it, so the first epochs learn what differs between rows instead of
first learning the average (a dense model other than the variational one starts from PCA's solution itself, so it
ends no worse than PCA; on rows of 2,048 or more features it works in their top 256 principal coordinates, a fixed
rotation that makes each step several times cheaper, while the error still counts every feature). The learning rate warms up briefly, then falls along a cosine curve to almost zero at the
last epoch, or at the end of the *time budget* when you give one. After every epoch it checks the *validation*
loss: when it stops improving for a while training stops early, and it keeps the best weights. This is how it
avoids overfitting: the validation curve turning up while the training curve keeps falling is the sign.

**What you get.** The reconstruction error on the held-out test rows, compared with PCA at the same code
size (the linear baseline), how well a 5-nearest-neighbour classifier does on the code, and the code itself
to explore on the Latent space page.

**Variants** are switches on the same model: *sparse* adds an L1 penalty $\\lambda\\lVert z\\rVert_1$ to the loss,
*denoising* corrupts $x$ before encoding but still compares $\\hat{x}$ with the clean $x$, *variational* makes
the code a Gaussian and adds $\\beta\\,\\mathrm{KL}(q(z\\mid x)\\,\\Vert\\,\\mathcal{N}(0, I))$, *convolutional* uses
convolutions for images.
"""
)

# ---- 1. dataset -------------------------------------------------------------------------
st.subheader("1 · Dataset")
yours = {s.key: s for s in image_sets(state.store())}  # zips uploaded, folders given to `train --images`
names = [*REGISTRY, *yours]
ds_name = state.kept_choice(st.selectbox, "Dataset", names, DEFAULT_DATASET, "train_dataset",
                            format_func=lambda n: f"{REGISTRY[n].title} — {REGISTRY[n].summary}" if n in REGISTRY
                            else yours[n].title)
dataset, options = ("images", yours[ds_name].options) if ds_name in yours else (ds_name, {})
try:
    ds = _dataset(dataset, options)
except InputError as exc:
    ds = None
    st.error(str(exc), icon=":material/folder_off:")

if ds is not None:
    with st.container(border=True):
        info, preview = st.columns([1, 2])
        with info:
            st.markdown(f"**{ds.title or REGISTRY[ds_name].title}**")
            st.caption(ds.description)
            for label, value in dataset_facts(ds):
                st.markdown(f"**{label}:** {value}")
        with preview:
            if ds.kind == "image" and ds.image_shape is not None and len(ds.image_shape) == 3:  # colour
                lo, hi = ds.value_range or (0.0, 255.0)
                first = (ds.X[:36].reshape(-1, *ds.image_shape) - lo) / (hi - lo)
                titles = [str(t)[:14] for t in ds.label_names()[:36]] if ds.y is not None else None
                st.plotly_chart(image_grid(first, titles, ncols=12, cell_px=40), key=f"grid_{ds_name}",
                                config={"displayModeBar": False})
                st.caption("The first 36 images, as prepared for training.")
            elif ds.kind == "image" and ds.image_shape is not None:
                st.plotly_chart(sample_grid_figure(ds.X, ds.image_shape, ds.label_names(), n=36, cols=12),
                                key=f"grid_{ds_name}", config={"displayModeBar": False})
                st.caption("The first 36 images (hover for the class).")
            else:
                st.dataframe(preview_table(ds, 20), hide_index=True, height=280)
                st.caption("The first 20 rows, raw units (they are standardised before training).")

# ---- 2. variant ---------------------------------------------------------------------------
st.subheader("2 · Variant")
variants = list(PRESETS)
variant = state.kept_choice(st.radio, "Variant", variants, variants[0], "train_variant", horizontal=True,
                            format_func=str.capitalize, label_visibility="collapsed")
st.markdown(f"_{PRESETS[variant].summary}_")
problem = None if ds is None else variant_problem(variant, ds.image_shape)
if problem:
    st.warning(problem[0].upper() + problem[1:], icon=":material/block:")

# ---- 3. settings ------------------------------------------------------------------------
config, config_error = None, None
if ds is not None:
    d = _defaults(dataset, options, variant)
    preset = PRESETS[variant].model
    k = f"{ds_name}_{variant}"  # defaults follow the dataset and the preset
    # No bounds on the number inputs: the browser would only mark a value out of range and keep
    # the old one, so Start would train with a number the form does not show. make_config checks
    # every value; a bad one is named below the form and Start is disabled until it is fixed.
    with st.expander("Advanced settings"):
        c1, c2, c3 = st.columns(3)
        latent = state.kept_widget(c1.number_input, "Latent size (code dimensions)", int(d["latent_dim"]),
                                   f"latent_{k}",
                                   help="2 or 3 can be drawn as they are; larger codes reconstruct better.")
        conv = preset.get("arch") == "conv"
        if conv:  # a conv model's layers are its channels; it has no hidden widths
            hidden_text = state.kept_widget(c2.text_input, "Convolution channels",
                                            ",".join(map(str, conv_channels_for(ds.image_shape))), f"channels_{k}",
                                            help="Channels of each stride-2 convolution, comma-separated; "
                                                 "the decoder mirrors them.")
        else:
            hidden_text = state.kept_widget(c2.text_input, "Hidden layer widths", ",".join(map(str, d["hidden"])),
                                            f"hidden_{k}",
                                            help="Encoder widths, comma-separated; the decoder mirrors them.")
        seed = state.kept_widget(c3.number_input, "Seed", 0, f"seed_{k}")
        c0, c1, c2, c3 = st.columns(4)
        budget = state.kept_widget(c0.number_input, "Time budget (s, 0 = off)", 0, f"budget_{k}", step=30,
                                   help="Train for this long instead of a number of epochs: the learning rate is "
                                        "annealed over the whole budget, so a longer budget gives a better model "
                                        "(all of Fashion-MNIST, 30-number code, 300 s on two CPU cores: 0.45-0.47x "
                                        "PCA's error, depending on the CPU).")
        epochs = state.kept_widget(c1.number_input, "Epochs (at most)", int(d["epochs"]), f"epochs_{k}",
                                   disabled=bool(budget), help="Early stopping may end training sooner. "
                                   "With a time budget, as many epochs as fit.")
        batch = state.kept_widget(c2.number_input, "Batch size", int(d["batch_size"]), f"batch_{k}")
        lr = state.kept_widget(c3.number_input, "Learning rate", float(d["lr"]), f"lr_{k}", format="%.4g", step=1e-4)
        c1, c2, c3 = st.columns(3)
        noise = state.kept_choice(c1.selectbox, "Input noise", list(NOISE_KINDS), preset.get("noise", "gaussian"),
                                  f"noise_{k}", help="Corruption applied while training (denoising).")
        noise_level = state.kept_widget(c2.number_input, "Noise level (0 = off)", float(preset.get("noise_level", 0.0)),
                                        f"noise_level_{k}", step=0.05)
        sparsity = state.kept_widget(c3.number_input, "Sparsity weight (0 = off)", float(preset.get("sparsity", 0.0)),
                                     f"sparsity_{k}", step=0.01, format="%.3f")
        beta = state.kept_widget(st.number_input, "β (weight of the KL term; variational only)",
                                 float(preset.get("beta", 1.0)), f"beta_{k}", step=0.1,
                                 disabled=variant != "variational")
        c1, c2, c3 = st.columns(3)
        mirror = state.kept_choice(c1.selectbox, "Mirror images", ["auto", "on", "off"], "auto", f"mirror_{k}",
                                   disabled=ds.image_shape is None,
                                   help="Also train on a random half of each batch mirrored left to right. auto: "
                                        "for the convolutional model under 20,000 images (and the dense one on "
                                        "large images) when a mirrored image looks like another image of the "
                                        "set, as photos and clothes do and digits do not. Images only.")
        shift = state.kept_choice(c2.selectbox, "Shift images", ["auto", "on", "off"], "auto", f"shift_{k}",
                                  disabled=ds.image_shape is None,
                                  help="Also train on a random fifth of each batch moved by one pixel, the edge "
                                       "pixels repeated, so the model also learns images a pixel off centre. "
                                       "auto: for images of 16 pixels a side or more, for the convolutional "
                                       "model (and the dense one on large images). Images only.")
        device = state.kept_choice(c3.selectbox, "Device", ["auto", "cpu", "cuda"], "auto", "train_device",
                                   help="Where the run trains. auto: a GPU where there is one (CUDA, then Apple's MPS), "
                                        "else the CPU. With the Ray executor, the device of the cluster's worker.")
    try:
        from ae_core.runs.spec import make_config

        layers = {"conv_channels": parse_sizes(hidden_text, "convolution channels")} if conv else \
            {"hidden": parse_sizes(hidden_text)}
        model = {"latent_dim": int(latent), **layers, "noise": noise,
                 "noise_level": float(noise_level), "sparsity": float(sparsity)}
        if variant == "variational":
            model["beta"] = float(beta)
        train = {"epochs": int(epochs), "batch_size": int(batch), "lr": float(lr), "seed": int(seed),
                 **{name: {"on": True, "off": False}.get(choice) if ds.image_shape is not None else None
                    for name, choice in (("mirror", mirror), ("shift", shift))}}
        if budget:
            from ae_core.model.config import budget_settings

            train = {**budget_settings(float(budget)), **{name: v for name, v in train.items() if name != "epochs"}}
        config = make_config(dataset, variant, options, model=model, train=train, ds=ds, device=device)
        if mirror == "auto" and ds.image_shape is not None:  # what auto chose, and why
            from ae_core.data.symmetry import auto_mirror_words

            c1.caption(auto_mirror_words(config["train"]["mirror"], config["model"]["arch"], config["model"]["front_dim"],
                                         ds.n_samples))
        if shift == "auto" and ds.image_shape is not None:
            from ae_core.model.config import auto_shift_words

            c2.caption(auto_shift_words(config["train"]["shift"], config["model"]["arch"], config["model"]["front_dim"]))
    except InputError as exc:
        config_error = str(exc)

if config_error:
    st.error(f"**Cannot start:** {config_error}", icon=":material/error:")
if st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=config is None, key="train_start"):
    try:
        rec = state.manager().submit(config)
    except InputError as exc:  # refused: a viewer's session, or too many starts from this tab
        st.error(str(exc), icon=":material/block:")
    else:
        state.follow_run(PICKER_KEY, rec.id)  # the picker below shows the new run
        st.toast(f"Started {rec.label()}", icon=":material/rocket_launch:")

# ---- 4. the selected run ------------------------------------------------------------------
st.divider()
st.subheader("Run")
runs = state.store().list(limit=100)
if not runs:
    st.info("No runs yet: press **Start training** above. Progress and loss curves appear here while it trains.",
            icon=":material/info:")
else:
    rec = state.run_picker(runs, label="Run to show", key=state.picker_key(PICKER_KEY), where=st)
    if rec is not None:
        rec = run_progress_panel(rec.id)
        if rec is not None and rec.status == "done":
            run_result(rec)
