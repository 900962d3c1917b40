"""What TensorFlow runs on. A GPU is picked up automatically when one is visible; memory growth is
turned on so a recipe does not grab the whole card."""

from __future__ import annotations

import os

_announced = False


def setup_device(verbose: bool = True) -> str:
    """Turn on GPU memory growth, print one `device: ...` line (once per process), return it."""
    global _announced
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised in this process: growth was set the first time
    device = describe_device()
    if verbose and not _announced:
        print(f"device: {device}", flush=True)
        _announced = True
    return device


def describe_device() -> str:
    """`GPU:0 NVIDIA H100 80GB HBM3` or `CPU (2 threads)`."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for index, gpu in enumerate(gpus):
            details = tf.config.experimental.get_device_details(gpu)
            names.append(f"GPU:{index} {details.get('device_name', gpu.name)}")
        return ", ".join(names)
    threads = tf.config.threading.get_intra_op_parallelism_threads() or _cpu_count()
    return f"CPU ({threads} threads)"


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
