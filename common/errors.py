"""The one exception type for bad input, at the bottom of common/'s layers: every layer raises it,
and `common.harness.run_main` turns it into one line on stderr and exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input found after parsing (a bad CSV, a missing download). `main` turns it into exit 2."""
