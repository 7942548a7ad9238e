"""Streamlit glue shared by the pages: the run store, the job manager, the
selected run (session state + URL) and small layout helpers. No computation:
that lives in ae_core."""
