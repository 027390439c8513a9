"""Two app servers on one shared folder (an NFS or cluster mount in production).

Each "server" is its own process with its own settings, storing into the same
folder at the same moment - one through a symbolic link, as a mount may appear
under another path - and each reads what the other stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_django.fixtures import Settings

from cpnav.cases.attachments import open_stored
from cpnav.core import storage
from tests.storage.conftest import LOCAL_BACKEND

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import json, sys
import django

django.setup()
from cpnav.cases.attachments import store

shared = b"%PDF-1.4\\n" + b"% evidence both servers receive\\n" * 50_000 + b"%%EOF\\n"
own = b"%PDF-1.4\\n" + sys.argv[1].encode() * 40_000 + b"\\n%%EOF\\n"
print(json.dumps([[s.relative_path, s.sha256] for s in (store([shared], name="a.pdf"),
                                                      store([own], name="b.pdf"))]))
"""


def test_two_servers_store_and_read_through_one_folder(settings: Settings, tmp_path: Path) -> None:
    shared = tmp_path / "nfs" / "attachments"
    shared.mkdir(parents=True)
    (tmp_path / "mnt").mkdir()
    (tmp_path / "mnt" / "cpnav").symlink_to(shared)
    skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    servers = []
    for index, folder in enumerate([shared, tmp_path / "mnt" / "cpnav"]):
        env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "cpnav.settings",
            "CPNAV_VAR_DIR": str(tmp_path / f"server{index}"),
            "CPNAV_ATTACHMENTS_DIR": str(folder),
        }
        servers.append(
            subprocess.Popen(  # both at once: they race for the shared file
                [sys.executable, "-c", SERVER, f"server {index} statement"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    stored = []
    for server in servers:
        out, err = server.communicate(timeout=300)
        assert server.returncode == 0, err[-2000:]
        stored.append(json.loads(out))

    (shared_a, own_a), (shared_b, own_b) = stored
    assert shared_a == shared_b  # the same evidence is one file
    assert own_a != own_b
    names = {name for name, _ in storage.local_files(shared)}
    assert names == {shared_a[0], own_a[0], own_b[0]}
    assert list((shared / "tmp").iterdir()) == []

    # A third server, configured with the folder as an explicit location, reads them all.
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": LOCAL_BACKEND, "OPTIONS": {"location": str(shared)}},
    }
    settings.ATTACHMENTS_DIR = tmp_path / "elsewhere"
    for relative_path, sha256 in (shared_a, own_a, own_b):
        with open_stored(relative_path, sha256) as handle:
            assert handle.read(9) == b"%PDF-1.4\n"
    assert not (tmp_path / "elsewhere").exists()
