"""tests/fiji: the helpers in fiji_standins.py are imported by the test modules."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
