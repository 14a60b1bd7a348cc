"""On-device profiler: measure MobileNet V1 variants on this board and pick one for a target FPS.

Device side: no TensorFlow, no model builder (grid models missing here are built by a builder the
caller passes, ``calibration.grid.build_latency_model`` on a workstation). The board's thermal state
and environment manifest come from ``edgenet.board``. Modules, one concept each:

- ``measure``     time ``invoke`` (load, first run, warm-up, N runs and T seconds, outliers)
- ``sustained``   long runs with sampling: burst vs steady FPS
- ``predict``     latency vs mult-adds fit
- ``select``      the pick for a target FPS
- ``accuracy``    accuracies from ``edgenet eval`` JSON or the published table
- ``models``      which models (a folder, or the grid in the model cache)
- ``build``       grid model paths, and building the missing ones with the given builder
- ``session``     ``profile(config)``: the whole run
- ``results``, ``export``, ``table``, ``plot``  the report and its JSON/CSV/table/PNG forms
"""

from edgenet.profiler.measure import MeasureOptions
from edgenet.profiler.session import ProfileConfig, profile

__all__ = ["MeasureOptions", "ProfileConfig", "profile"]
