"""Helpers shared by two or more recipes: flags, data, device, training, results, plots, references."""

import logging
import os

# TensorFlow's C++ start-up chatter (oneDNN notices, missing CUDA on a CPU machine) hides the one
# line a user needs; errors still show. Set before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# and its Python warnings (e.g. a retraced predict function, which each new small model costs)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
