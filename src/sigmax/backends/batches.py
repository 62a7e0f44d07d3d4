"""Mini-batches of an objective's data term (moved to :mod:`sigmax.dataterms.batches`)."""

from ..dataterms.batches import RowBatches, batched, default_batch_count

__all__ = ["RowBatches", "batched", "default_batch_count"]
