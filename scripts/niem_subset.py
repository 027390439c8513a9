"""Rebuild the NIEM subset schemas shipped in cpnav/niem/schemas/niem/.

Usage: python scripts/niem_subset.py [RELEASE_XSD_FOLDER]
(default: ../shared/niem-6.0/xsd beside the project). See cpnav/niem/subset.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cpnav.niem import subset

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "niem-6.0" / "xsd"


def main(argv: list[str]) -> int:
    release = Path(argv[1]) if len(argv) > 1 else DEFAULT
    files = subset.write(release)
    kept = sum(1 for _ in subset.kept_components())
    print(f"wrote {len(files)} schema documents holding {kept} definitions to {subset.SUBSET_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
