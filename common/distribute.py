"""Data-parallel training on TensorFlow's own engine (tf.distribute): the `--distribute` flag.

    auto         MirroredStrategy over every visible GPU when there are two or more, else one device
    none         one device (TensorFlow's default strategy)
    mirrored     MirroredStrategy over the visible devices: every GPU, else every logical CPU device
    multiworker  MultiWorkerMirroredStrategy over the machines TF_CONFIG names

`common.harness.run_main` starts the strategy before the run touches TensorFlow and runs the whole
recipe inside `strategy.scope()`, so every model is built and compiled there. `--batch-size` is per
replica: one step takes batch x replicas examples (`global_batch`), split across the replicas; the
learning rate is not scaled with it (`LEARNING_RATE_RULE`). A dataset is sharded by data (each worker
takes its part of every batch), never by file. Only the chief (TF_CONFIG's chief, else worker 0)
writes to --output-dir; every other worker writes to a temporary folder it removes at the end.
metrics.json records all of this under environment.distribution.

Keras's own code needs two private patches to train on several replicas (common/multireplica.py):
that module is imported only when a strategy of several replicas or workers starts, never by a
single-device run.

Splitting the CPU into N logical devices (RECIPES_CPU_DEVICES=N, read by common.device) lets
`mirrored` run N replicas on a machine without GPUs: slower than one device, but the same code path
as N GPUs, which is how the tests check it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common.errors import UsageError
from common.results import check_writable

CHOICES = ("auto", "none", "mirrored", "multiworker")
HELP = (
    "how training is spread: auto (every GPU when there are 2 or more, else one device), none, "
    "mirrored (every visible GPU, else every logical CPU), multiworker (the machines in TF_CONFIG); "
    "--batch-size is per replica, a step takes batch x replicas examples, the learning rate is unscaled"
)
LEARNING_RATE_RULE = "not scaled: the same --learning-rate for any number of replicas"
PUBLIC_NAMES = {  # tf.distribute's names for the classes behind its strategies
    "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
    "_DefaultDistributionStrategy": "default (one device)",
}
WORKER_TIMEOUT_S = 120  # how long a worker waits for the others to join before it gives up


@dataclass
class Distribution:
    """The strategy a run trains under, and this process's part in it."""

    choice: str
    strategy: object
    workers: int = 1
    task: str = ""  # "worker 1", "chief 0" under multiworker
    is_chief: bool = True

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def describe(self, batch_size: int | None = None) -> dict:
        """What metrics.json records: the flag, the strategy, replicas, workers and devices, and
        the batch and learning-rate rules (with the global batch of this run's --batch-size)."""
        try:
            devices = list(self.strategy.extended.worker_devices)
        except RuntimeError:  # the default strategy: the one device TensorFlow places ops on
            devices = []
        record = {
            "flag": self.choice,
            "strategy": PUBLIC_NAMES.get(type(self.strategy).__name__, type(self.strategy).__name__),
            "replicas": self.replicas,
            "workers": self.workers,
            "devices": devices,
            "batch": "--batch-size is per replica; a step takes batch_size x replicas examples",
            "learning_rate": LEARNING_RATE_RULE,
        }
        if batch_size is not None:
            record["global_batch_size"] = batch_size * self.replicas
        if self.task:
            record["task"] = self.task
        return record


_current: Distribution | None = None


def current() -> Distribution | None:
    """The distribution this process's run trains under (None outside `distributed`)."""
    return _current


def replicas() -> int:
    """The replicas of the strategy in scope (1 outside any, and on a backend other than TensorFlow)."""
    from common.device import backend

    if backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def global_batch(per_replica: int) -> int:
    """The examples one step takes: `per_replica` on each replica of the strategy in scope."""
    return per_replica * replicas()


def steps_per_execution(steps: int) -> int:
    """`steps` training steps per compiled call, or 1 where Keras cannot run several in one: under a
    strategy of several replicas (Keras 3.15's loop fails in TensorFlow there: "You must feed a
    value for placeholder tensor ... while/cond"), and on PyTorch, where Keras takes one step a call.
    Call it inside the strategy's scope."""
    from common.device import backend

    return steps if replicas() == 1 and backend() != "torch" else 1


def shard_by_data(dataset):
    """`dataset` with the DATA auto-shard policy: every worker reads the same in-memory examples and
    keeps its part of each batch (sharding by FILE has nothing to split for arrays)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


@contextmanager
def distributed(args, prog: str):
    """Start the strategy `args.distribute` asks for, run the body inside its scope, and give a worker
    that is not the chief a temporary --output-dir (removed afterwards). UsageError for a bad
    TF_CONFIG; one line and the end of the process when the other workers do not join within
    --worker-timeout seconds."""
    global _current
    from common.device import backend_name

    name, where = backend_name()
    if name != "tensorflow":  # tf.distribute is TensorFlow's: one device on the others
        if args.distribute not in ("auto", "none"):
            raise UsageError(
                f"--distribute {args.distribute} trains through tf.distribute, TensorFlow's; this "
                f"run is on {name} (from {where}): use --distribute none, or KERAS_BACKEND=tensorflow"
            )
        yield None
        return
    if args.distribute == "multiworker" and getattr(args, "resume", False):
        raise UsageError(
            "--resume with --distribute multiworker: only the chief keeps a checkpoint, so the "
            "workers could not agree on what is left; run again without --resume"
        )
    check_writable(Path(args.output_dir), "--output-dir")  # before anything is set up
    if os.environ.get("TF_CONFIG") and args.distribute != "multiworker":
        print(
            f"{prog}: note: TF_CONFIG is set but not used (it is read by --distribute multiworker "
            f"only); this run is --distribute {args.distribute}",
            file=sys.stderr,
            flush=True,
        )
    distribution = start(args.distribute, args.worker_timeout, prog)
    scratch = None
    if not distribution.is_chief:
        scratch = tempfile.mkdtemp(prefix=f"recipes-{distribution.task.replace(' ', '')}-")
        args.output_dir = scratch
    _current = distribution
    try:
        with distribution.strategy.scope():
            yield distribution
    finally:
        _current = None
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def start(
    choice: str, worker_timeout: float = WORKER_TIMEOUT_S, prog: str = "python -m recipes"
) -> Distribution:
    """The Distribution for `choice` (one of CHOICES), with the device set up first."""
    from common.device import configure_devices, setup_device

    cluster = task = None
    if choice == "multiworker":  # checked before TensorFlow starts: a bad TF_CONFIG fails at once
        cluster, task = parse_tf_config(os.environ.get("TF_CONFIG"))
        check_port_free(cluster[task[0]][task[1]])
    configure_devices()
    import tensorflow as tf

    if choice == "multiworker":  # created before anything starts TensorFlow's runtime, as it must be
        kind, index = task
        with watchdog(worker_timeout, not_joined_message(cluster, task, worker_timeout, prog)):
            strategy = tf.distribute.MultiWorkerMirroredStrategy()  # waits for the cluster's servers
            setup_device()
            workers = sum(len(cluster[job]) for job in ("chief", "worker") if job in cluster)
            chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
            distribution = Distribution(choice, strategy, workers, f"{kind} {index}", chief)
            all_reduce_once(strategy)  # returns when every worker has joined
        from common.multireplica import average_scalars_across_workers, build_from_first_replica

        build_from_first_replica()
        average_scalars_across_workers()
        return distribution
    setup_device()
    gpus = tf.config.list_logical_devices("GPU")
    if choice == "mirrored" or (choice == "auto" and len(gpus) > 1):
        from common.multireplica import build_from_first_replica

        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        build_from_first_replica()
        return Distribution(choice, tf.distribute.MirroredStrategy(devices))
    return Distribution(choice, tf.distribute.get_strategy())


def check_port_free(address: str) -> None:
    """UsageError when this task's own port is taken (TensorFlow's server would fail deep inside)."""
    import socket

    port = int(address.rpartition(":")[2])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as error:
            raise UsageError(
                f"TF_CONFIG: this task's address {address} cannot be served: port {port} is in use "
                f"({error.strerror or error}); free it or give this task another port"
            ) from None


def parse_tf_config(text: str | None) -> tuple[dict, tuple[str, int]]:
    """(cluster, (task type, task index)) from TF_CONFIG's text; UsageError naming what is wrong."""
    example = (
        'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
        '"task": {"type": "worker", "index": 0}}'
    )
    if not text or not text.strip():
        raise UsageError(f"--distribute multiworker needs TF_CONFIG set to the cluster, {example}")
    try:
        config = json.loads(text)
    except ValueError as error:
        raise UsageError(f"TF_CONFIG is not JSON ({error}); {example}") from None
    if not isinstance(config, dict):
        raise UsageError(f"TF_CONFIG must be a JSON object, {example}")
    cluster = config.get("cluster")
    if not isinstance(cluster, dict) or not cluster:
        raise UsageError(f"TF_CONFIG has no cluster, {example}")
    for job, addresses in cluster.items():
        if job not in ("chief", "worker"):
            raise UsageError(
                f"TF_CONFIG cluster job {job!r}: multiworker training takes only chief and worker"
            )
        if not isinstance(addresses, list) or not addresses:
            raise UsageError(f"TF_CONFIG cluster {job!r} must be a non-empty list of host:port")
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise UsageError(f"TF_CONFIG cluster {job!r}: {address!r} is not host:port")
            if not 0 < int(port) < 65536:
                raise UsageError(f"TF_CONFIG cluster {job!r}: {address!r}: a port is 1 to 65535")
    task = config.get("task")
    if not isinstance(task, dict):
        raise UsageError('TF_CONFIG has no task, e.g. "task": {"type": "worker", "index": 0}')
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster:
        raise UsageError(
            f"TF_CONFIG task type {kind!r} is not a job of the cluster ({', '.join(cluster)})"
        )
    if not isinstance(index, int) or isinstance(index, bool):
        raise UsageError(f"TF_CONFIG task index must be an integer, got {index!r}")
    if not 0 <= index < len(cluster[kind]):
        raise UsageError(
            f"TF_CONFIG task index {index} is out of range: the cluster has {len(cluster[kind])} "
            f"{kind}(s), indexed 0 to {len(cluster[kind]) - 1}"
        )
    return cluster, (kind, index)


def not_joined_message(cluster: dict, task: tuple[str, int], timeout: float, prog: str) -> str:
    me = cluster[task[0]][task[1]]
    others = [a for job in ("chief", "worker") for a in cluster.get(job, ()) if a != me]
    return (
        f"{prog}: error: --distribute multiworker: the other worker(s) ({', '.join(others)}) did "
        f"not join within {timeout:g} s (--worker-timeout); start each with the same TF_CONFIG "
        f"cluster and its own task index"
    )


_WATCH = """
import os, select, signal, sys
pid, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], seconds)
if not ready:  # the body has not ended (it closes our stdin when it does, and so does its death)
    print(message, file=sys.stderr, flush=True)
    os.kill(pid, signal.SIGKILL)
"""


@contextmanager
def watchdog(timeout: float, message: str):
    """Run the body; if it has not finished after `timeout` seconds, print `message` and kill this
    process (exit status 137). For waits nothing inside the process can end: a worker that never
    comes blocks the strategy's start-up for ever, holding Python's lock (so no thread or signal
    handler of ours runs) and ignoring SIGTERM. So a small watcher process keeps the time."""
    import subprocess

    command = [sys.executable, "-c", _WATCH, str(os.getpid()), str(timeout), message]
    watcher = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        yield
    finally:
        watcher.stdin.close()
        watcher.wait()


def all_reduce_once(strategy) -> None:
    """One all-reduce over every replica of every worker: it returns when all have joined."""
    import tensorflow as tf

    ones = strategy.run(lambda: tf.ones(()))
    strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None).numpy()
