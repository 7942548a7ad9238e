"""What a training loop tells its caller: the callback hooks of `ae_core.model.training.Trainer`.

Torch-free, so the estimator (and anything else) can define callbacks without importing torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ae_core.model.training import Trainer


class Callback:
    """Hooks the trainer calls; override what you need."""

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer, epoch: int, batch: int, n_batches: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict) -> None: ...

    def should_stop(self, trainer: Trainer) -> bool:
        return False
