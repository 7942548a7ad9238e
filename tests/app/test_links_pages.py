"""Links that reproduce the view: each explore page reads its shareable state from the URL and writes it
back (Streamlit AppTest through app.py, on finished runs)."""

from __future__ import annotations

from tests.conftest import app_errors, page_app


def _open(page: str, run_id: str, **params):
    at = page_app(page, timeout=120)
    at.query_params["run"] = run_id
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def _url(at) -> dict:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_latent_link_opens_projection_colouring_and_selection(trained_store):
    _, ids = trained_store
    at = _open("latent.py", ids["digits"], proj="pca", colour="split", sel="3-5.40")
    assert not app_errors(at)
    assert at.selectbox(key=f"lat_method_{ids['digits']}").value == "pca"
    assert at.selectbox(key=f"lat_colour_{ids['digits']}").value == "split"
    assert "4 selected" in [s.value for s in at.subheader]
    assert _url(at) == {"run": ids["digits"], "proj": "pca", "colour": "split", "sel": "3-5.40"}


def test_latent_link_with_bad_values_opens_the_default_view(trained_store):
    _, ids = trained_store
    at = _open("latent.py", ids["digits"], proj="nope", colour="<b>x</b>", sel="1-2-3", dims="9")
    assert not app_errors(at)
    assert at.selectbox(key=f"lat_method_{ids['digits']}").value == "latent"
    assert not [s for s in at.subheader if "selected" in s.value]
    assert _url(at) == {"run": ids["digits"]}  # the bad values are dropped from the address too


def test_latent_url_follows_the_widgets(trained_store):
    _, ids = trained_store
    at = _open("latent.py", ids["digits"])
    at.selectbox(key=f"lat_colour_{ids['digits']}").select("reconstruction error").run()
    assert _url(at) == {"run": ids["digits"], "colour": "reconstruction error"}


def test_reconstructions_link(trained_store):
    _, ids = trained_store
    at = _open("reconstructions.py", ids["digits"], how="by class", n="4", **{"class": "7"})
    assert not app_errors(at)
    assert at.slider(key="recon_n").value == 4
    assert at.selectbox(key=f"recon_cls_{ids['digits']}").value == "7"
    assert _url(at)["how"] == "by class" and _url(at)["n"] == "4"


def test_denoising_link(trained_store):
    _, ids = trained_store
    at = _open("denoising.py", ids["digits"], noise="masking", level="0.45")
    assert not app_errors(at)
    assert at.selectbox(key="denoise_kind").value == "masking"
    assert at.slider(key="denoise_level").value == 0.45


def test_anomalies_link_sets_the_threshold(trained_store):
    _, ids = trained_store
    at = _open("anomalies.py", ids["outliers"], by="contamination", share="7.5")
    assert not app_errors(at)
    assert at.radio(key="anomaly_how").value == "contamination"
    assert at.slider(key="anomaly_contamination").value == 7.5
    at.slider(key="anomaly_contamination").set_value(2.0).run()
    assert _url(at)["share"] == "2"
