# Serves the `hotload` package from sources compiled into the hotload-host binary, so that
# `import hotload` works in the user's interpreter with no install step. Installed first on
# sys.meta_path: the host's own copy wins over an installed or copied-in hotload.py.
# (Plain classes rather than importlib.abc: that import alone costs milliseconds at start.)
import marshal
import sys
# The import system's own ModuleSpec (importlib.machinery's): no `importlib` package import,
# which brings `warnings` in at start-up.
from _frozen_importlib import ModuleSpec


class EmbeddedFinder:
    def __init__(self, sources):
        # module name -> (source text, marshalled code compiled by build.rs, is_package)
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        is_package = self.sources[fullname][2]
        spec = ModuleSpec(fullname, self, origin=self._filename(fullname), is_package=is_package)
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        try:
            code = marshal.loads(self.sources[name][1])
        except (ValueError, EOFError, TypeError):
            code = compile(self.get_source(name), self._filename(name), "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        return self.sources[fullname][0]

    def invalidate_caches(self):
        pass

    def _filename(self, fullname):
        is_package = self.sources[fullname][2]
        leaf = "__init__.py" if is_package else fullname.rpartition(".")[2] + ".py"
        parts = fullname.split(".")
        parts = parts if is_package else parts[:-1]
        return "<hotload-host>/" + "/".join(parts + [leaf])


def install(sources):
    sys.meta_path.insert(0, EmbeddedFinder(sources))
