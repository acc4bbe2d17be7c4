"""Where the shared reference material lives (overridable, so the same tests run on other fixtures)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PARITY_DIR = Path(os.environ.get("TEXTGAN_PARITY_DIR", SHARED / "parity"))
DATASETS_DIR = Path(os.environ.get("TEXTGAN_DATASETS_DIR", SHARED / "datasets"))
