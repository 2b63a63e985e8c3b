"""How one network is trained: epochs, mini-batch size, early-stopping patience, shuffling.

One value shared by both training loops, :func:`lstmfc.network.models.fit` (which picks
the loop) and :func:`lstmfc.network.fastfit.fit` (the lean torch loop), so that the two
read the same settings with the same meaning. It has no defaults of its own: they are
:class:`lstmfc.workflows.train.TrainOptions`' (the one home of the network defaults).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitSettings:
    """Training-loop settings of one :func:`lstmfc.network.models.fit`.

    Attributes
    ----------
    epochs : int
        Upper bound on epochs.
    batch_size : int
        Training windows per optimiser step.
    patience : int
        ``EarlyStopping(monitor="val_loss", patience=patience,
        restore_best_weights=True)``: epochs without a lower validation loss before
        training stops; the weights of the best validation epoch are kept
        (Keras 3 restores them at the end of training even when it did not stop early).
    shuffle : bool
        Shuffle the order of *training* windows each epoch (default True). Every window
        keeps its own past and its own target, and validation windows stay in the later
        period, so shuffling inside the training split does not leak future
        information; it only decorrelates consecutive mini-batches (standard SGD
        practice).

    The fields are stored as ``int`` / ``bool`` (so NumPy integers from a config are
    accepted); ranges are checked by the callers' options (``lstmfc train``).
    """

    epochs: int
    batch_size: int
    patience: int
    shuffle: bool = True

    def __post_init__(self):
        object.__setattr__(self, "epochs", int(self.epochs))
        object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "patience", int(self.patience))
        object.__setattr__(self, "shuffle", bool(self.shuffle))
