"""Autoencoder Explorer: entry point. Routes to the pages with st.navigation."""

import streamlit as st

st.set_page_config(page_title="Autoencoder Explorer", page_icon=":material/hub:", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
        st.Page("pages/reconstructions.py", title="Reconstructions", icon=":material/compare:"),
        st.Page("pages/denoising.py", title="Denoising", icon=":material/blur_on:"),
        st.Page("pages/anomalies.py", title="Anomalies", icon=":material/crisis_alert:"),
    ],
    "Your data": [
        st.Page("pages/upload.py", title="Upload CSV", icon=":material/upload_file:"),
        st.Page("pages/compare.py", title="Compare runs", icon=":material/leaderboard:"),
    ],
}

st.navigation(PAGES).run()
