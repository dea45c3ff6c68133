"""data package: the contract, validation, the demo world; imported first by every layer.

OpenMP threads (LightGBM's, scikit-learn's) wait for work passively unless the user says
otherwise: on a machine shared with other processes, spinning threads fight for the cores, and
one LightGBM fit of the demo's size took 26-105 s with two spinning threads against 7 s with
passive ones (`benchmarks/threads.py`). OpenMP reads the setting when it is loaded, so it is
set here, before any layer imports LightGBM.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
