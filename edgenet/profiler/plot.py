"""The Pareto plot: accuracy against FPS for every profiled model, frontier, target line and pick.

matplotlib is imported here only (Agg backend: boards are headless); ``pip install 'edgenet[plot]'``
adds it on a board.
"""

from __future__ import annotations


from edgenet.errors import UsageError
from edgenet.outputs import check_output_path
from edgenet.profiler.results import ProfileReport


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both FPS and accuracy, by increasing FPS."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best_acc = [], float("-inf")
    for i in order:  # fastest first: a point is on the front if it is more accurate than all faster ones
        if points[i][1] > best_acc:
            front.append(i)
            best_acc = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


def check_plot(path: str | None) -> None:
    """Before any measuring: matplotlib is installed and the plot's folder exists (UsageError if not)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'edgenet[plot]' (or sudo apt install "
                         "python3-matplotlib with a --system-site-packages venv), or drop --plot") from None
    if path:
        check_output_path(path, option="--plot")


def plot_pareto(report: ProfileReport, path: str) -> str:
    check_plot(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_output_path(path, option="--plot")
    # One point per model: its best judged FPS over thread counts.
    best: dict[str, tuple[float, float, str, int]] = {}
    for row in report.rows:
        fps, kind = row.judged()
        if fps is None or row.accuracy is None:
            continue
        if row.name not in best or fps > best[row.name][0]:
            best[row.name] = (fps, row.accuracy, kind, row.threads)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    names = list(best)
    points = [(best[n][0], best[n][1]) for n in names]
    for kind, marker, colour in (("measured", "o", "tab:blue"), ("steady", "s", "tab:purple"),
                                 ("predicted", "^", "tab:gray")):
        xs = [best[n][0] for n in names if best[n][2] == kind]
        ys = [best[n][1] for n in names if best[n][2] == kind]
        if xs:
            ax.scatter(xs, ys, marker=marker, c=colour, label=kind, zorder=3,
                       alpha=0.6 if kind == "predicted" else 1.0)
    for n in names:
        short = n.replace("mobilenet_v1_", "")
        ax.annotate(short, (best[n][0], best[n][1]), textcoords="offset points", xytext=(4, 3), fontsize=7)
    front = pareto_front(points)
    if len(front) > 1:
        ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "-", c="tab:orange",
                label="Pareto frontier", zorder=2)
    choice = report.choice
    if choice is not None:
        ax.axvline(choice.target_fps, c="tab:red", ls="--", label=f"target {choice.target_fps:g} FPS")
        if choice.margin:
            ax.axvline(choice.threshold_fps, c="tab:red", ls=":", label=f"target + {choice.margin * 100:g}% margin")
        if choice.pick is not None and choice.pick.fps is not None:
            ax.scatter([choice.pick.fps], [choice.pick.accuracy], s=260, facecolors="none", edgecolors="tab:green",
                       linewidths=2.5, label=f"pick: {choice.pick.label.replace('mobilenet_v1_', '')}", zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("frames per second (log scale; best thread count)")
    ax.set_ylabel("ImageNet top-1 (%)")
    board = report.environment.get("board") or report.environment.get("cpu") or ""
    ax.set_title(f"MobileNet V1 variants: accuracy vs speed {('on ' + board) if board else ''}".strip(), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
