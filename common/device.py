"""What TensorFlow runs on. A GPU is picked up automatically when one is visible; memory growth is
turned on so a recipe does not grab the whole card.

Two environment variables shape the CPU, read before TensorFlow starts: TF_NUM_INTRAOP_THREADS
(TensorFlow's own: the threads one op may use, which `python -m recipes all --jobs N` sets to divide
the machine between its processes) and RECIPES_CPU_DEVICES=N, which splits the CPU into N logical
devices so `--distribute mirrored` can run N replicas without a GPU (common/distribute.py)."""

from __future__ import annotations

import os

_announced = False
CPU_DEVICES = "RECIPES_CPU_DEVICES"


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow and let it probe for GPUs, with this process's stderr (file descriptor 2)
    pointed at /dev/null while it does, unless `verbose`: its C++ start-up notices (oneDNN, CPU
    instructions, and on a machine without a GPU "failed call to cuInit", which is not a failure)
    would be the first lines a user reads. A Python error is still shown, after stderr is restored;
    `--verbose` shows everything, for when TensorFlow itself fails to start."""
    import sys

    if "tensorflow" in sys.modules:
        return  # started already: its start-up log is behind it
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe, which logs on a CPU-only machine
        tf.get_logger().setLevel("ERROR")  # its Python warnings too (a notebook's kernel shows them)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def setup_device(verbose: bool = True) -> str:
    """Configure the devices (`configure_devices`), print one `device: ...` line (once per process),
    return it."""
    global _announced
    configure_devices()
    device = describe_device()
    if verbose and not _announced:
        print(f"device: {device}", flush=True)
        _announced = True
    return device


def configure_devices() -> None:
    """GPU memory growth on, and the CPU split into RECIPES_CPU_DEVICES logical devices, before
    TensorFlow starts its runtime (a no-op once it has: the first call's settings hold)."""
    import tensorflow as tf

    from common.errors import UsageError

    text = os.environ.get(CPU_DEVICES, "") or "1"
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{CPU_DEVICES}={text!r}: expected a whole number of devices, 1 or more")
    if int(text) > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * int(text)
            )
        except RuntimeError:
            pass  # already initialised in this process: split the first time
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised in this process: growth was set the first time


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
    threads = intra_op_threads()
    logical = len(tf.config.list_logical_devices("CPU"))
    split = f", {logical} logical devices" if logical > 1 else ""
    return f"CPU ({threads} threads{split})"


def intra_op_threads() -> int:
    """The threads one TensorFlow op may use on the CPU: as configured, else TF_NUM_INTRAOP_THREADS,
    else one per core (TensorFlow's default). On some CPUs (an AMD EPYC, measured) a run's numbers
    depend on it, in their last digits: metrics.json records it (environment.threads)."""
    import tensorflow as tf

    return (
        tf.config.threading.get_intra_op_parallelism_threads()
        or int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0") or 0)
        or cpu_count()
    )


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
