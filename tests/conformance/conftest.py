"""Where the NIST PKITS data is: ``NODEGATE_PKITS_DATA``, else what ``make test`` extracts into .cache/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT = Path(__file__).resolve().parents[2] / ".cache" / "pkits" / "PKITS_data"


@pytest.fixture(scope="session")
def pkits_data() -> Path:
    folder = Path(os.environ.get("NODEGATE_PKITS_DATA", DEFAULT))
    if not (folder / "certs" / "TrustAnchorRootCertificate.crt").is_file():
        pytest.fail(f"PKITS data not found in {folder}: run `make pkits` (make test does it)")
    return folder
