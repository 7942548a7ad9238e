"""Plotly figure builders: pure functions of arrays and frames. `common` holds the shared pieces
(colours, the latent scatter, image grids); one module per page family for the rest."""
