"""Data in: the dataset registry (`registry`), MNIST-style image files (`image_files`), CSV text of
unknown origin (`csv_io`), a table prepared into features with a report (`tabular`), and the splits
and scaling fitted on the training rows (`preprocessing`). No model, no run store."""
