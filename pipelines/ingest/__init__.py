"""The ingest of status-data exports (rename step: the split into modules follows)."""

from pipelines.ingest.college import *  # noqa: F401,F403
from pipelines.ingest.college import _write_once  # noqa: F401
