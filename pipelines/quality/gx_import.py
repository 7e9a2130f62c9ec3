"""Importing Great Expectations without what our validation never uses (`import_gx`).

We validate pandas frames in an ephemeral context, yet importing GX loads much more, at a cost a
cold run pays while its ingest saturates both cores: scipy.stats and altair (three expectations
our suites never use, loaded on first use instead: `defer_scipy_stats`, `defer_altair`), and every
other kind of data source, SQL, Spark, cloud and file ones, which GX's `datasource.fluent` package
imports one by one, each building its pydantic models (a third of what is left of the import:
`defer_other_datasources`). Deferred means loaded when GX first reads it, never missing: a
validation loads nothing deferred, and any other use loads what it needs and works as before.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types

FLUENT = "great_expectations.datasource.fluent"
# the modules of `FLUENT`'s own imports that a pandas frame's validation needs; the others are deferred
FLUENT_KEPT = frozenset(
    f"{FLUENT}.{name}" for name in ("interfaces", "invalid_datasource", "batch_request", "pandas_datasource")
)
LOAD_LOCK = threading.RLock()


def defer_scipy_stats() -> None:
    """Make `scipy.stats` load on first use instead of at GX's import (`importlib.util.LazyLoader`).

    GX imports it at module level for three expectations our suites never use (KL divergence, KS
    tests), and it is about a third of GX's import time. The package attribute is set as well, so
    that `from scipy import stats` takes the module as it is, without touching (and loading) it."""
    if "scipy.stats" in sys.modules or importlib.util.find_spec("scipy") is None:
        return
    import scipy

    spec = importlib.util.find_spec("scipy.stats")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scipy.stats"] = module
    loader.exec_module(module)
    scipy.stats = module


class DeferredModule(types.ModuleType):
    """A module that stands in `sys.modules` for one not imported yet: the first attribute read
    imports the real one (out of `sys.modules` first, so that it imports as itself) and takes over
    its namespace. Unlike `LazyLoader`, an `import` of it alone does not load it: the import system
    reads only `__spec__`, which is set."""

    def __getattr__(self, attr: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def defer_altair() -> None:
    """Make `altair` load on first use instead of at GX's import (`DeferredModule`): GX imports it at
    module level for the charts of one expectation our suites never use (KL divergence), and it is
    about a quarter of what is left of GX's import (0.8 of 3.2 s of CPU)."""
    spec = None if "altair" in sys.modules else importlib.util.find_spec("altair")
    if spec is None:
        return
    stub = DeferredModule("altair")
    stub.__spec__, stub.__file__ = spec, spec.origin
    stub.__path__ = list(spec.submodule_search_locations or [])
    sys.modules["altair"] = stub


class TrimmedPackageLoader(importlib.machinery.SourceFileLoader):
    """Runs a package's `__init__` without its `from <package>.<module> import names` statements
    whose module `keep` rejects; each name so left out is imported with its module when first read
    from the package (a module `__getattr__`, PEP 562), and `load_deferred` imports them all."""

    def __init__(self, fullname: str, path: str, keep: frozenset[str]) -> None:
        super().__init__(fullname, path)
        self.keep = keep
        self.deferred: dict[str, tuple[str, str]] = {}  # name → (module, attribute)

    def get_code(self, fullname: str) -> types.CodeType:
        tree = ast.parse(self.get_data(self.path), self.path)
        tree.body = [node for node in tree.body if not self.defers(node)]
        return compile(tree, self.path, "exec", dont_inherit=True)

    def defers(self, node: ast.stmt) -> bool:
        own = isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.startswith(f"{self.name}.")
        if not own or node.module in self.keep:
            return False
        for alias in node.names:
            self.deferred[alias.asname or alias.name] = (node.module, alias.name)
        return True

    def exec_module(self, module: types.ModuleType) -> None:
        super().exec_module(module)

        def deferred_attribute(name: str):
            if name not in self.deferred:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            source, attribute = self.deferred[name]
            value = getattr(importlib.import_module(source), attribute)
            setattr(module, name, value)
            return value

        module.__getattr__ = deferred_attribute

    def load_deferred(self) -> bool:
        """Import every deferred module; whether any was not imported yet."""
        missing = sorted({source for source, _ in self.deferred.values()} - set(sys.modules))
        for source in missing:
            importlib.import_module(source)
        return bool(missing)


class TrimmedPackageFinder(importlib.abc.MetaPathFinder):
    """Finds `package` once, with a `TrimmedPackageLoader`, then leaves the import system as it was."""

    def __init__(self, package: str, keep: frozenset[str]) -> None:
        self.package, self.keep = package, keep
        self.loader: TrimmedPackageLoader | None = None

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != self.package:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        self.loader = TrimmedPackageLoader(fullname, spec.origin, self.keep)
        spec.loader = self.loader
        return spec


def defer_other_datasources() -> TrimmedPackageFinder | None:
    """Make GX's `datasource.fluent` package import only the pandas data source (`FLUENT_KEPT`), the
    others on first use (`TrimmedPackageLoader`). GX registers each data source type when its
    module is imported, and looks types up by name (a context's saved data sources, `add_sqlite`…):
    `load_on_lookup_miss` makes a lookup that misses import the deferred ones and try again."""
    if FLUENT in sys.modules or importlib.util.find_spec("great_expectations") is None:
        return None
    finder = TrimmedPackageFinder(FLUENT, FLUENT_KEPT)
    sys.meta_path.insert(0, finder)
    return finder


def load_on_lookup_miss(loader: TrimmedPackageLoader) -> None:
    """After GX's import: a data source type (`DataSourceManager.type_lookup`) or factory method
    (`context.data_sources.add_<type>`) not found imports the deferred data sources, then is looked
    up again, so that what GX registers at their import is there whenever it is asked for."""
    from great_expectations.datasource.fluent.sources import DataSourceManager

    load_deferred = loader.load_deferred
    lookup = DataSourceManager.type_lookup

    class LoadingTypeLookup(type(lookup)):
        def __missing__(self, key):
            if load_deferred() and key in self.data:
                return self.data[key]
            raise KeyError(key)

    lookup.__class__ = LoadingTypeLookup
    factory = DataSourceManager.__getattr__

    def factory_loading(self, name: str):
        try:
            return factory(self, name)
        except AttributeError:
            if name.startswith("_") or not load_deferred():
                raise
            return factory(self, name)

    DataSourceManager.__getattr__ = factory_loading


def import_gx() -> types.ModuleType:
    """`great_expectations`, imported with what it needs deferred (scipy.stats, altair, the data
    sources other than pandas); thread-safe (the import lock)."""
    with LOAD_LOCK:
        defer_scipy_stats()
        defer_altair()
        finder = defer_other_datasources()
        try:
            import great_expectations
        finally:
            if finder is not None and finder in sys.meta_path:  # GX was not found or failed before the package
                sys.meta_path.remove(finder)
        if finder is not None and finder.loader is not None:
            load_on_lookup_miss(finder.loader)
    return great_expectations
