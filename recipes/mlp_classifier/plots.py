"""Every figure of the MLP classifier, drawn from metrics.json (and the .npz arrays beside it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.plotting import plot_bars, plot_confusion_matrix, plot_learning_curves, plt, save_figure
from common.results import load_arrays

LEAD = "comparison"  # the figure the gallery opens with, one per recipe
CAPTIONS = {  # figure name (or its prefix) -> what to see in it, shown under it in the gallery
    "learning_curves": "Loss and accuracy per epoch over seeds, training beside validation: the gap "
    "between them is overfitting; early stopping keeps the best validation epoch.",
    "confusion_matrix": "Test examples by true class (rows) and predicted class (columns): the "
    "off-diagonal cells are the classes the network confuses.",
    "comparison": "Test accuracy of the Keras MLP beside scikit-learn, logistic regression, the NumPy "
    "MLP and the published numbers, on the same split.",
    "misclassified": "Test images the network got wrong, with the true and predicted class.",
    "first_layer_weights": "What first-layer units respond to, each unit's weights drawn as an image.",
}


def plot(metrics: dict, out_dir) -> None:
    """Learning curves, the confusion matrix, the comparison with the baselines and references, and
    for image data the misclassified test images and the first-layer weights."""
    out_dir = Path(out_dir)
    results = metrics["results"]
    name = results["dataset"]
    plot_learning_curves(
        {"Keras MLP": results["history"]},
        out_dir / "learning_curves.png",
        f"MLP on {name}: mean and spread over {len(results['per_seed'])} seed(s)",
    )
    plot_confusion_matrix(
        results["confusion_matrix"],
        results["class_names"],
        out_dir / "confusion_matrix.png",
        f"MLP on {name} (seed {results['per_seed'][0]['seed']}), test set",
    )
    values = {"Keras MLP": results["test_accuracy"]}
    values.update({key: b["test_accuracy"] for key, b in results["baselines"].items()})
    plot_bars(
        values,
        out_dir / "comparison.png",
        f"Test accuracy on {name}",
        "test accuracy",
        errors={"Keras MLP": results["test_accuracy_std"]},
        references={r["name"]: r["value"] for r in metrics["references"]},
        ylim=(0, 1.08),
        highlight="Keras MLP",
    )
    shape = results.get("image_shape")
    if shape:
        plot_images(results, out_dir, tuple(shape))


def plot_images(results: dict, out_dir: Path, shape: tuple[int, ...]) -> None:
    """The misclassified test images and the first-layer weights, both drawn as images."""
    name, names = results["dataset"], results["class_names"]
    wrong = load_arrays(out_dir, "misclassified")
    titles = [f"{names[t]} -> {names[p]}" for t, p in zip(wrong["true"], wrong["predicted"])]
    plot_image_grid(
        wrong["images"],
        titles,
        out_dir / "misclassified.png",
        f"Misclassified test images (true -> predicted), {name}",
        shape,
    )
    kernel = load_arrays(out_dir, "first_layer_weights")["kernel"]
    plot_image_grid(
        kernel.T,
        [f"unit {i + 1}" for i in range(kernel.shape[1])],
        out_dir / "first_layer_weights.png",
        "First-layer weights of 32 hidden units (red +, blue -, one shared scale)",
        shape,
        signed=True,
    )


def plot_image_grid(
    images,
    titles: list[str],
    path: str | Path,
    title: str,
    shape: tuple[int, int],
    cols: int = 8,
    signed: bool = False,
) -> Path:
    """Small images on one shared colour scale with a caption each (e.g. misclassified examples).

    `signed` (weights): a diverging map centred on 0, so positive and negative weights read apart.
    """
    images = np.asarray(images)
    n = max(1, len(images))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.4), squeeze=False)
    vmin, vmax = (float(images.min()), float(images.max())) if len(images) else (0, 1)
    cmap = "gray_r"
    if signed:
        vmax = max(abs(vmin), abs(vmax))
        vmin, cmap = -vmax, "RdBu_r"
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k].reshape(shape), cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(titles[k], fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)
