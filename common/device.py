"""What the recipes run on: the Keras backend (TensorFlow by default, JAX or PyTorch), and its device.
A GPU is picked up automatically when one is visible; on TensorFlow memory growth is turned on so a
recipe does not grab the whole card.

The backend is Keras's own setting, `KERAS_BACKEND` (else ~/.keras/keras.json): `backend_name`
reads it without importing Keras, which picks it once, at its import. Two environment variables
shape a TensorFlow CPU, read before TensorFlow starts: TF_NUM_INTRAOP_THREADS (the threads one op
may use, which `python -m recipes all --jobs N` sets to divide the machine between its processes,
with OMP_NUM_THREADS for PyTorch) and RECIPES_CPU_DEVICES=N, which splits the CPU into N logical
devices so `--distribute mirrored` can run N replicas without a GPU (common/distribute.py)."""

from __future__ import annotations

import json
import os

_announced = False
CPU_DEVICES = "RECIPES_CPU_DEVICES"
BACKENDS = ("tensorflow", "jax", "torch")
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def thread_env(threads: int | None, env=None) -> dict:
    """`env` (this process's environment by default) with `threads` (when set) as TensorFlow's
    intra- and inter-op threads (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS) and OpenMP's
    (OMP_NUM_THREADS, PyTorch's); one thread is also XLA's on JAX (XLA_FLAGS), which otherwise
    takes every core. On some CPUs a run's numbers depend on its intra-op thread count (the order in
    which a multi-threaded kernel sums): metrics.json records it as environment.threads."""
    env = dict(os.environ if env is None else env)
    if threads is None:
        return env
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    if threads == 1 and ONE_THREAD_XLA not in env.get("XLA_FLAGS", ""):
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {ONE_THREAD_XLA}".strip()
    return env


def backend_name() -> tuple[str, str]:
    """(the Keras backend this process runs on, where that was read from), as Keras reads it:
    KERAS_BACKEND, else the `backend` of Keras's config file, else TensorFlow, Keras's default. The
    Keras already imported, if one is, has the last word."""
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"].config.backend(), "the Keras already started"
    backend, where = os.environ.get("KERAS_BACKEND"), "KERAS_BACKEND"
    if not backend:
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        config = os.path.join(home, "keras.json")
        try:
            with open(config, encoding="utf-8") as handle:
                backend, where = json.load(handle).get("backend"), config
        except (OSError, ValueError, AttributeError):
            backend = None
    return (backend or "tensorflow"), where if backend else "Keras's default"


def backend() -> str:
    return backend_name()[0]


def import_backend(verbose: bool = False) -> None:
    """Start the backend Keras will run on before Keras itself: TensorFlow quietly
    (`import_tensorflow`), JAX or PyTorch as they are. On JAX and PyTorch TensorFlow, where it is
    installed, is started quietly too: Keras imports it anyway, loudly, to save a model (its
    serialization asks `tf.available`)."""
    from importlib.util import find_spec

    if backend() == "tensorflow" or find_spec("tensorflow") is not None:
        import_tensorflow(verbose)
    import keras  # noqa: F401  (it reads the backend now, once)


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
    """TensorFlow: GPU memory growth on, and the CPU split into RECIPES_CPU_DEVICES logical devices,
    before TensorFlow starts its runtime (a no-op once it has: the first call's settings hold). Other
    backends take their devices as they find them."""
    if backend() != "tensorflow":
        return
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


def gpu_names() -> list[str]:
    """The GPUs the backend sees (`GPU:0 NVIDIA H100 80GB HBM3`), without starting TensorFlow's
    runtime."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
        return [f"GPU:{i} {d.get('device_name', g.name)}" for i, (g, d) in enumerate(zip(gpus, details))]
    if name == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return [f"GPU:{i} {getattr(d, 'device_kind', 'GPU')}" for i, d in enumerate(gpus)]
    if name == "torch":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [f"GPU:{i} {torch.cuda.get_device_name(i)}" for i in range(count)]
    return []


def describe_device() -> str:
    """`GPU:0 NVIDIA H100 80GB HBM3` or `CPU (2 threads)`, and the backend: `..., on JAX`."""
    name, label = backend(), {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
    gpus = gpu_names()
    if gpus:
        where = ", ".join(gpus)
    else:
        threads, split = intra_op_threads(), ""
        if name == "tensorflow":
            import tensorflow as tf

            logical = len(tf.config.list_logical_devices("CPU"))
            split = f", {logical} logical devices" if logical > 1 else ""
        where = f"CPU ({threads} threads{split})"
    return f"{where}, on {label.get(name, name)}"


def intra_op_threads() -> int:
    """The threads one op may use on the CPU: TensorFlow's as configured, else TF_NUM_INTRAOP_THREADS,
    else one per core (its default); PyTorch's (OMP_NUM_THREADS); JAX's XLA every core, or one. On some
    CPUs (an AMD EPYC, measured) a run's numbers depend on it, in their last digits: metrics.json
    records it (environment.threads)."""
    name = backend()
    if name == "torch":
        import torch

        return torch.get_num_threads()
    if name != "tensorflow":  # JAX: one thread where XLA_FLAGS says so (`python -m recipes all`)
        return 1 if ONE_THREAD_XLA in os.environ.get("XLA_FLAGS", "") else cpu_count()
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
