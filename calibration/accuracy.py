"""Float and int8 accuracy of a build on the user's labelled images, through ``edgenet.evaluate``.

For a 1000-class model, top-1 agreement between float and int8 is not the measure (Google's own QAT
int8 models agree with their float copies only 92-97 % of the time on held-out images while scoring
the same top-1): what matters is whether int8 loses accuracy. The goal is int8 top-1 within
``DROP_GOAL_POINTS`` of float on the user's labelled set; a larger drop is flagged.
"""

from __future__ import annotations

import os

DROP_GOAL_POINTS = 0.5


def labelled_accuracy(models: dict[str, str], images: str, labels: str | None, ground_truth: str | None = None,
                      threads: int | None = None) -> dict:
    """``{"float": {top1, top5}, "int8": {...}, "top1_drop_points", "flag", ...}`` for ``models``
    (``{"float": path, "int8": path}``, either may be missing), scored on the same images."""
    from edgenet.evaluate import evaluate, paired_difference

    out: dict = {"images": os.path.abspath(images), "ground_truth": os.path.abspath(ground_truth) if ground_truth else None}
    scored = {}
    for kind, path in models.items():
        e = scored[kind] = evaluate(path, images, labels=labels, ground_truth=ground_truth, threads=threads)
        out["count"] = e.count
        out[kind] = {"top1": round(e.top1, 4), "top5": round(e.top5, 4)}
    if "float" in out and "int8" in out:
        drop = (out["float"]["top1"] - out["int8"]["top1"]) * 100
        out["top1_drop_points"] = round(drop, 2)
        # How far the drop can be trusted: only images the two get differently move it (95 % interval).
        d = paired_difference(scored["float"].per_image, scored["int8"].per_image)
        out["top1_drop_interval_points"] = [round(d.low, 2), round(d.high, 2)]
        out["only_float_right"], out["only_int8_right"] = d.only_a, d.only_b
        out["top5_drop_points"] = round((out["float"]["top5"] - out["int8"]["top5"]) * 100, 2)
        out["goal_points"] = DROP_GOAL_POINTS
        out["flag"] = bool(drop > DROP_GOAL_POINTS)
    out["resolution_points"] = round(100 / out["count"], 2)  # one image, in points: the noise floor of small sets
    return out
