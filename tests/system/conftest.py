"""System tests (faults, bad input, network): real runs with real processes.

They reuse the helpers of the tests one level up (tests/test_runtime.py, tests/netns.py, ...),
so that directory goes on the import path, as it is for those tests themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
