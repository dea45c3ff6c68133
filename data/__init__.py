"""data package: the contract, validation, the demo world; imported first by every layer.

OpenMP threads (LightGBM's, scikit-learn's) wait for work passively unless the user says
otherwise: on a machine shared with other processes, spinning threads fight for the cores.
`benchmarks/threads.py` (one 60,000-row fit, 2 cores, 2026-11-30): median 11.3 s spinning
against 5.0 s passive at load 4.7, 5.8 s against 5.0 s at load 3.5. OpenMP reads the setting
when it is loaded, so it is set here, before any layer imports LightGBM.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
