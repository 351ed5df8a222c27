# Serves the `hotload` package from sources compiled into the hotload-host binary, so that
# `import hotload` works in the user's interpreter with no install step. Installed first on
# sys.meta_path: the host's own copy wins over an installed or copied-in hotload.py.
# (Plain classes rather than importlib.abc: that import alone costs milliseconds at start.)
import sys
from importlib.machinery import ModuleSpec


class EmbeddedFinder:
    def __init__(self, sources):
        self.sources = sources  # module name -> (source text, is_package)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        is_package = self.sources[fullname][1]
        spec = ModuleSpec(fullname, self, origin=self._filename(fullname), is_package=is_package)
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source = self.get_source(module.__name__)
        code = compile(source, self._filename(module.__name__), "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        return self.sources[fullname][0]

    def invalidate_caches(self):
        pass

    def _filename(self, fullname):
        leaf = "__init__.py" if self.sources[fullname][1] else fullname.rpartition(".")[2] + ".py"
        parts = fullname.split(".")
        parts = parts if self.sources[fullname][1] else parts[:-1]
        return "<hotload-host>/" + "/".join(parts + [leaf])


def install(sources):
    sys.meta_path.insert(0, EmbeddedFinder(sources))
