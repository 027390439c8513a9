"""Copy the parts of USWDS that CP Navigator uses from node_modules into static.

Only the CSS, the JavaScript, and the fonts and images that the CSS or our
templates refer to are copied (about 5 MB instead of 20): collectstatic and
WhiteNoise then stay fast, and Django's manifest storage finds every file the
CSS names. The copy is not committed; `make` rebuilds it.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "node_modules" / "@uswds" / "uswds" / "dist"
TARGET = ROOT / "cpnav" / "core" / "static" / "vendor" / "uswds"
FILES = [
    "css/uswds.min.css",
    "css/uswds.min.css.map",
    "js/uswds.min.js",
    "js/uswds.min.js.map",
    "js/uswds-init.min.js",
    "js/uswds-init.min.js.map",
    # Used by our templates (banner, header, icons).
    "img/us_flag_small.png",
    "img/icon-dot-gov.svg",
    "img/icon-https.svg",
    "img/sprite.svg",
    "img/usa-icons/close.svg",
    "img/usa-icons/navigate_next.svg",
    "img/usa-icons/navigate_before.svg",
]
URL = re.compile(r"url\(\s*['\"]?([^'\")?#]+)")


def main() -> int:
    if not DIST.is_dir():
        print(f"missing {DIST}: run `npm ci` first", file=sys.stderr)
        return 1
    if TARGET.exists():
        shutil.rmtree(TARGET)
    wanted = set(FILES)
    css = (DIST / "css" / "uswds.min.css").read_text(encoding="utf-8")
    for ref in URL.findall(css):
        if ref.startswith("data:"):
            continue
        wanted.add(str((Path("css") / ref).as_posix()).replace("css/../", ""))
    missing = []
    for name in sorted(wanted):
        source = DIST / name
        if not source.is_file():
            missing.append(name)
            continue
        destination = TARGET / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    if missing:
        print("USWDS files not found: " + ", ".join(missing), file=sys.stderr)
        return 1
    print(f"copied {len(wanted)} USWDS files to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
