"""Speed beside the peers the recipes' tables compare against: `python -m benchmarks`."""
