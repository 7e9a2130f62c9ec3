"""Importing Great Expectations without what our validation never uses (`import_gx`).

We validate pandas frames in an ephemeral context, yet importing GX loads much more, at a cost a
cold run pays while its ingest saturates both cores: scipy.stats and altair (three expectations
our suites never use, loaded on first use instead: `defer_scipy_stats`, `defer_altair`); every
other kind of data source, SQL, Spark, cloud and file ones, which GX's `datasource.fluent` package
imports one by one, each building its pydantic models; and the fifty-odd expectations our suites
do not use (`defer_unused_parts`: together about 0.8 of 1.8 s of CPU). Deferred means loaded when
GX first reads it, never missing: a validation loads nothing deferred, and any other use loads
what it needs and works as before.
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
from collections.abc import Callable
from pathlib import Path

FLUENT = "great_expectations.datasource.fluent"
# the modules of `FLUENT`'s own imports that a pandas frame's validation needs; the others are deferred
FLUENT_KEPT = frozenset(
    f"{FLUENT}.{name}" for name in ("interfaces", "invalid_datasource", "batch_request", "pandas_datasource")
)
EXPECTATIONS = "great_expectations.expectations"
EXPECTATIONS_CORE = f"{EXPECTATIONS}.core"
# the expectations our suites use (expectations/*.json; `tests/test_gx_import.py` checks that the list covers
# them), and the one GX's own modules import; the others are deferred
EXPECTATIONS_KEPT = frozenset(
    f"{EXPECTATIONS_CORE}.{name}"
    for name in (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_null",
        "expect_compound_columns_to_be_unique",
        "expect_table_columns_to_match_set",
        "unexpected_rows_expectation",
    )
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


def absolute_module(package: str, node: ast.ImportFrom) -> str:
    """The module a `from … import` statement of `package`'s `__init__` names, made absolute."""
    if node.level == 0:
        return node.module or ""
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imported_names(package: str, path: str) -> dict[str, str]:
    """Each name that `package`'s `__init__` (at `path`) imports with `from … import`, and from which module."""
    tree = ast.parse(Path(path).read_bytes(), path)
    return {
        alias.asname or alias.name: absolute_module(package, node)
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


class TrimmedPackageLoader(importlib.machinery.SourceFileLoader):
    """Runs a package's `__init__` without the names of its `from <module> import names` statements
    that `deferrable(module, name)` accepts; each name so left out is imported when first read from
    the package (a module `__getattr__`, PEP 562), and `load_deferred` imports them all."""

    def __init__(self, fullname: str, path: str, deferrable: Callable[[str, str], bool]) -> None:
        super().__init__(fullname, path)
        self.deferrable = deferrable
        self.deferred: dict[str, tuple[str, str]] = {}  # name → (module, attribute)

    def get_code(self, fullname: str) -> types.CodeType:
        tree = ast.parse(self.get_data(self.path), self.path)
        tree.body = [node for node in tree.body if not isinstance(node, ast.ImportFrom) or self.trimmed(node)]
        return compile(tree, self.path, "exec", dont_inherit=True)

    def trimmed(self, node: ast.ImportFrom) -> bool:
        """Leaves in `node` the names not deferred; whether any is left."""
        module = absolute_module(self.name, node)
        kept = []
        for alias in node.names:
            if alias.name != "*" and self.deferrable(module, alias.name):
                self.deferred[alias.asname or alias.name] = (module, alias.name)
            else:
                kept.append(alias)
        node.names = kept
        return bool(kept)

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
        """Import every deferred name; whether any module was not imported yet."""
        missing = {source for source, _ in self.deferred.values()} - set(sys.modules)
        for source, attribute in self.deferred.values():
            getattr(importlib.import_module(source), attribute)
        return bool(missing)


class TrimmedPackageFinder(importlib.abc.MetaPathFinder):
    """Finds `package` once, with a `TrimmedPackageLoader`, then leaves the import system as it was."""

    def __init__(self, package: str, deferrable: Callable[[str, str], bool]) -> None:
        self.package, self.deferrable = package, deferrable
        self.loader: TrimmedPackageLoader | None = None

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != self.package:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        self.loader = TrimmedPackageLoader(fullname, spec.origin, self.deferrable)
        spec.loader = self.loader
        return spec


def other_datasource(module: str, name: str) -> bool:
    """Whether `datasource.fluent`'s import of `name` from `module` is of a data source other than pandas."""
    return module.startswith(f"{FLUENT}.") and module not in FLUENT_KEPT


def other_expectation(core_names: dict[str, str]) -> Callable[[str, str], bool]:
    """Whether an import of `name` from `module` is of an expectation our suites do not use: by
    `expectations.core` from its module, or by `expectations` from `expectations.core`."""

    def deferrable(module: str, name: str) -> bool:
        if module == EXPECTATIONS_CORE:
            module = core_names.get(name, EXPECTATIONS_CORE)
        return module.startswith(f"{EXPECTATIONS_CORE}.") and module not in EXPECTATIONS_KEPT

    return deferrable


def defer_unused_parts() -> list[TrimmedPackageFinder]:
    """Make GX's `datasource.fluent` package import only the pandas data source (`FLUENT_KEPT`) and its
    `expectations` packages only the expectations our suites use (`EXPECTATIONS_KEPT`), the others
    on first use (`TrimmedPackageLoader`). GX registers each data source and expectation when its
    module is imported, and looks them up by name (a context's saved data sources, `add_sqlite`, a
    suite's expectation types…): `load_on_lookup_miss` makes a lookup that misses import the
    deferred ones and try again."""
    root = importlib.util.find_spec("great_expectations")
    if "great_expectations" in sys.modules or root is None or not root.submodule_search_locations:
        return []
    core_init = Path(root.submodule_search_locations[0], "expectations", "core", "__init__.py")
    expectation = other_expectation(imported_names(EXPECTATIONS_CORE, str(core_init)))
    finders = [
        TrimmedPackageFinder(FLUENT, other_datasource),
        TrimmedPackageFinder(EXPECTATIONS, expectation),
        TrimmedPackageFinder(EXPECTATIONS_CORE, expectation),
    ]
    sys.meta_path[:0] = finders
    return finders


def load_on_lookup_miss(loaders: dict[str, TrimmedPackageLoader]) -> None:
    """After GX's import: a data source type (`DataSourceManager.type_lookup`), a factory method
    (`context.data_sources.add_<type>`) or an expectation type (the registry) not found imports the
    deferred ones, then is looked up again, so that what GX registers at their import is there
    whenever it is asked for; listing every registered expectation lists them all."""
    from great_expectations.datasource.fluent.sources import DataSourceManager
    from great_expectations.expectations import registry

    def load_deferred(*packages: str) -> bool:
        loaded = False
        for package in packages:
            if package in loaders:
                loaded = loaders[package].load_deferred() or loaded
        return loaded

    lookup = DataSourceManager.type_lookup

    class LoadingTypeLookup(type(lookup)):
        def __missing__(self, key):
            if load_deferred(FLUENT) and key in self.data:
                return self.data[key]
            raise KeyError(key)

    lookup.__class__ = LoadingTypeLookup
    factory = DataSourceManager.__getattr__

    def factory_loading(self, name: str):
        try:
            return factory(self, name)
        except AttributeError:
            if name.startswith("_") or not load_deferred(FLUENT):
                raise
            return factory(self, name)

    DataSourceManager.__getattr__ = factory_loading

    class LoadingRegistry(dict):
        def get(self, key, default=None):
            if key not in self:
                load_deferred(EXPECTATIONS_CORE, EXPECTATIONS)
            return super().get(key, default)

        def items(self):
            load_deferred(EXPECTATIONS_CORE, EXPECTATIONS)
            return super().items()

    registry._registered_expectations = LoadingRegistry(registry._registered_expectations)


def import_gx() -> types.ModuleType:
    """`great_expectations`, imported with what it needs deferred (scipy.stats, altair, the data
    sources other than pandas, the expectations our suites do not use); thread-safe."""
    with LOAD_LOCK:
        defer_scipy_stats()
        defer_altair()
        finders = defer_unused_parts()
        try:
            import great_expectations
        finally:
            for finder in finders:  # those GX's import did not reach (it failed before) are left
                if finder in sys.meta_path:
                    sys.meta_path.remove(finder)
        loaders = {finder.package: finder.loader for finder in finders if finder.loader is not None}
        if loaders:
            load_on_lookup_miss(loaders)
    return great_expectations
