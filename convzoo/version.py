"""The installed distribution's version, for ``--version`` and every report's stamp.

It sits at the top of the flow (it imports nothing of convzoo), so a report deep in
``train/`` can stamp it without importing the package root, which re-exports everything.
"""

from __future__ import annotations

from importlib import metadata

try:
    VERSION = metadata.version("convzoo")
except metadata.PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
    VERSION = "0+unknown"
