"""On-device profiler: measure MobileNet V1 variants on this board and pick one for a target FPS.

Device side: no TensorFlow, except ``build`` (grid models with random weights), which imports it
inside its functions only when asked to build. Modules, one concept each:

- ``measure``     time ``invoke`` (load, first run, warm-up, N runs and T seconds, outliers)
- ``thermal``     temperatures, frequencies, governor, ``vcgencmd get_throttled``, ``nvpmodel -q``
- ``sustained``   long runs with sampling: burst vs steady FPS
- ``environment`` the manifest stored with every result
- ``predict``     latency vs mult-adds fit
- ``select``      the pick for a target FPS
- ``accuracy``    accuracies from ``edgenet eval`` JSON or the published table
- ``models``      which models (a folder, or the grid in the model cache)
- ``session``     ``profile(config)``: the whole run
- ``results``, ``export``, ``table``, ``plot``  the report and its JSON/CSV/table/PNG forms
"""

from edgenet.profiler.measure import MeasureOptions
from edgenet.profiler.session import ProfileConfig, profile

__all__ = ["MeasureOptions", "ProfileConfig", "profile"]
