"""Helpers shared by two or more recipes: flags, data, device, training, results, plots, references."""

import logging
import os

# TensorFlow's C++ log (oneDNN notices, missing CUDA on a CPU machine, graph-version notes) hides the
# lines a user needs; a real failure still surfaces as a Python error. `--verbose` shows it all
# (common.device.import_tensorflow). Set before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# and its Python warnings (e.g. a retraced predict function, which each new small model costs)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
