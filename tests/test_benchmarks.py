"""`python -m benchmarks`, in miniature: every ratio measured from both sides, with accuracies."""

from __future__ import annotations

from benchmarks.__main__ import main
from tests.conftest import assert_outputs_contract


def test_benchmarks_measure_each_ratio_beside_both_accuracies(tmp_path):
    """`python -m benchmarks`'s main in this process (what the command runs once started)."""
    out = tmp_path / "bench"
    argv = ["--repeats", "2", "--items", "500", "--tile", "1", "--epochs", "2", "--no-recipes"]
    assert main([*argv, "--output-dir", str(out)]) == 0
    metrics = assert_outputs_contract(out, "benchmarks", figures=("ratios",), quick=None)
    results = metrics["results"]
    for stream in ("sea", "agrawal"):
        r = results["online"][stream]
        assert len(r["keras_mlp"]["per_repeat"]) == 2 and len(r["river_lr"]["per_repeat"]) == 2
        keras_speed, river_speed = r["keras_mlp"]["items_per_second"], r["river_lr"]["items_per_second"]
        assert keras_speed > 0 and river_speed > 0 and r["ratio"] == keras_speed / river_speed
        assert r["keras_mlp"]["accuracy"] > 0.5 and r["river_lr"]["accuracy"] > 0.5  # two classes
    river = results["river_interface"]  # the same learner through river's progressive_val_score
    assert len(river["progressive_val_score"]["per_repeat"]) == 2
    assert river["progressive_val_score"]["accuracy"] > 0.5
    assert river["recipe_loop"]["accuracy"] == results["online"]["sea"]["keras_mlp"]["accuracy"]
    assert river["speed_ratio"] == (
        river["progressive_val_score"]["items_per_second"] / river["recipe_loop"]["items_per_second"]
    )
    mlp = results["mlp"]
    assert mlp["setup"] == {"rows": 1797, "epochs": 2, "batch": 200, "network": "64-128-64-10"}
    keras_sides = ("keras_fit", "keras_fit_epoch_call", "keras_fit_warm")
    for side in (*keras_sides, "sklearn_mlp"):
        assert len(mlp[side]["per_repeat"]) == 2
        assert mlp[side]["samples_per_second"] > 0 and mlp[side]["accuracy"] > 0.1  # ten classes
    peer = mlp["sklearn_mlp"]["samples_per_second"]
    for side in keras_sides:
        assert mlp[side]["ratio"] == mlp[side]["samples_per_second"] / peer
    assert mlp["ratio"] == mlp["keras_fit_warm"]["ratio"]
    assert "recipes" not in results


def test_benchmarks_refuse_an_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--output-dir", str(blocker / "out")]) == 2
    assert "cannot write there" in capsys.readouterr().err
