"""Autoencoder Explorer: entry point. Routes to the pages with st.navigation.

Nothing is imported at module level: multiprocessing's spawn runs this file again, as "__mp_main__", in every
process the server starts (training workers, the UMAP helper), and must not pay for Streamlit there
(benchmarks/FINDINGS.md, "What was fixed").
"""


def main() -> None:
    import streamlit as st

    from ui import access, present
    from ui.fixes import apply as keep_page_switches
    from ui.fixes import forget_undrawn_fragments
    from ui.state import start_jobs, start_logging, start_projector

    start_logging()
    keep_page_switches()  # a sidebar click survives a live panel's timer (ui/fixes.py)
    if access.viewers_possible():
        # Viewers see "an error occurred", not tracebacks with paths (a server-wide setting; logs keep them).
        st.set_option("client.showErrorDetails", "none")
    st.set_page_config(page_title="Autoencoder Explorer", page_icon=":material/hub:", layout="wide")
    editor = access.is_editor()
    pages = {
        "Explore": [
            st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
            *([st.Page("app_pages/train.py", title="Train", icon=":material/model_training:")] if editor else []),
            st.Page("app_pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
            st.Page("app_pages/reconstructions.py", title="Reconstructions", icon=":material/compare:"),
            st.Page("app_pages/denoising.py", title="Denoising", icon=":material/blur_on:"),
            st.Page("app_pages/anomalies.py", title="Anomalies", icon=":material/crisis_alert:"),
        ],
        "Your data": [
            # Viewers get no Upload page: st.navigation runs only the pages it lists, so a viewer's request for
            # /upload or /train opens Home instead (ui.state refuses uploads and runs for viewers as well).
            *([st.Page("app_pages/upload.py", title="Upload data", icon=":material/upload_file:")] if editor else []),
            st.Page("app_pages/compare.py", title="Compare runs", icon=":material/leaderboard:"),
        ],
    }
    start_projector()  # UMAP in a helper process that compiles it in the background, once per server
    try:
        page = st.navigation(pages, position="top" if present.on() else "sidebar")  # present mode: no sidebar
        access.sidebar()
        present.controls()
        page.run()
    finally:
        forget_undrawn_fragments()  # also when the page stopped early (ui/fixes.py, 3)
        # After the page has been sent (also when it stopped or switched): the job manager and, a few seconds
        # later, a worker waiting with torch imported. Created first, it cost the first page about 0.1 s.
        start_jobs()


# In the processes the server spawns (`__mp_main__`, see above) this file must do nothing.
if __name__ == "__main__":
    main()
