"""Where a model bundle is looked for: an explicit path, $REELPOET_BUNDLE, or the embedded default.

A bundle is a folder with a ``manifest.json`` (the export issue defines its contents and how it
is verified). This module only finds the folder and says plainly when there is none.
"""

from __future__ import annotations

import os
from pathlib import Path

from reelpoet.sdk.errors import BundleNotInstalledError

BUNDLE_ENV_VAR = "REELPOET_BUNDLE"
MANIFEST_NAME = "manifest.json"

# The default bundle ships as package data beside this file, so a non-editable install finds it
# offline with nothing downloaded.
DEFAULT_BUNDLE_DIR = Path(__file__).resolve().parent / "bundles" / "default"


def locate_bundle(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the bundle folder to use, or raise BundleNotInstalledError saying where we looked."""
    if path is not None:
        source, folder = "the path given", Path(path)
    elif os.environ.get(BUNDLE_ENV_VAR):
        source, folder = f"${BUNDLE_ENV_VAR}", Path(os.environ[BUNDLE_ENV_VAR])
    else:
        source, folder = "the embedded default", DEFAULT_BUNDLE_DIR
    if (folder / MANIFEST_NAME).is_file():
        return folder
    raise BundleNotInstalledError(
        f"No model bundle is installed at {folder} ({source}): it has no {MANIFEST_NAME}. "
        "A plain install of reelpoet includes the default bundle; if it is missing, the "
        "installation is incomplete (reinstall reelpoet). To use another bundle, pass its "
        f"folder or set ${BUNDLE_ENV_VAR}."
    )
