"""Numbers computed from a finished run, without Streamlit: metrics against PCA (`metrics`),
2-D/3-D projections (`projection`) and the UMAP helper process (`projection_process`), and what each
explore page shows (`latent`, `reconstruction`, `denoising`, `anomaly`, `compare`). Never imports
the job manager."""
