"""Import shim: the demo generator moved to the `pipelines.demo` package (issue 15). Kept only for
modules of other areas that still import from here (tests and benchmarks of ingest, quality, the
run lock and the end-to-end run); remove once they import from `pipelines.demo`."""

from pipelines.demo.layouts import ONLINE_VERSION, write_layout_fixtures
from pipelines.demo.plan import plan_schools
from pipelines.demo.province import generate_province

__all__ = ["ONLINE_VERSION", "generate_province", "plan_schools", "write_layout_fixtures"]
