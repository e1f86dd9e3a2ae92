"""The per-check unit tests (one file per check, mirroring plugins/billing_readiness/checks/) share
tests/unit/stand_ins.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
