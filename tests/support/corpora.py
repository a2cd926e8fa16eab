"""Where the shared real-world mail corpora live: `../shared/corpora` beside the checkout."""

from __future__ import annotations

from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
