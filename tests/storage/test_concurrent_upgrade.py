"""Several processes starting at once on one PostgreSQL migrate one after the other."""

from __future__ import annotations

import subprocess
import sys

import pytest

from storage import migrate


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_upgrades_started_together_leave_one_migrated_schema(empty_database_url: str) -> None:
    code = "import sys; from storage import crypto, migrate; "
    code += "crypto.configure([crypto.new_key()]); migrate.upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, empty_database_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    assert migrate.current(empty_database_url) == migrate.head()
