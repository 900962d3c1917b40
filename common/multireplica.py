"""Private Keras patches that training on several replicas or workers needs (Keras 3.15 here).

Imported by `common.distribute.start` only when it starts MirroredStrategy or
MultiWorkerMirroredStrategy: a single-device run never imports this module, so it never touches
`keras.src` internals. The tests that train under several replicas fail if a Keras release changes
the methods patched here.
"""

from __future__ import annotations


def build_from_first_replica() -> None:
    """Let Keras build a model under a strategy from one replica's share of the first batch.

    Keras (3.15 here) builds it from the mean over replicas of that batch
    (`TensorFlowTrainer._maybe_symbolic_build`), which fails under MultiWorkerMirroredStrategy (it
    reduces the nested (x, y) batch: keras-team/keras#20585) and under MirroredStrategy whenever the
    replicas' shares differ in size (`evaluate` on 899 examples: 450 and 449). Building needs only the
    shapes, which one share has. Applied only for a strategy of several replicas or workers; the
    tests that train under one fail if a Keras release changes this method."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    original = TensorFlowTrainer._maybe_symbolic_build
    if getattr(original, "from_first_replica", False):
        return

    def first_share(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return value.values[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is not None and iterator is not None:
            for _, _, batches in iterator:  # as Keras does: the first batch of the epoch iterator
                data_batch = tree.map_structure(first_share, next(batches))
                break
        return original(self, data_batch=data_batch)

    maybe_symbolic_build.from_first_replica = True
    TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build


def average_scalars_across_workers() -> None:
    """Let Keras average a train or test step's scalar logs (loss, accuracy) across workers.

    Under MultiWorkerMirroredStrategy, Keras (3.15 here) averages each log with
    `strategy.reduce("MEAN", value, axis=0)` (`trainer.reduce_per_replica`), which fails for the
    scalars a step returns (keras-team/keras#20585). This reduces a scalar over the replicas alone
    (axis=None) and leaves every other case to Keras. Applied only under multiworker; the
    two-worker test fails if a Keras release changes this function."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "scalars_across_workers", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        multiworker = trainer._collective_all_reduce_multi_worker(strategy)
        if not (multiworker and reduction in ("auto", "mean")):
            return original(values, strategy, reduction)

        def mean(value):
            rank = value.shape.rank if hasattr(value, "shape") else 0
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=0 if rank else None)

        return tree.map_structure(mean, values)

    reduce_per_replica.scalars_across_workers = True
    trainer.reduce_per_replica = reduce_per_replica
