"""The model: configs and variant presets (`config`), the PyTorch modules (`networks`) and the one
trainer every variant shares (`training`). Nothing here knows about runs, the store or the app."""
