# Serves the `hotload` package from sources compiled into the hotload-host binary, so that
# `import hotload` works in the user's interpreter with no install step. Installed first on
# sys.meta_path: the host's own copy wins over an installed or copied-in hotload.py.
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.util import spec_from_loader


class EmbeddedFinder(MetaPathFinder, Loader):
    def __init__(self, sources):
        self.sources = sources  # module name -> (source text, is_package)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        is_package = self.sources[fullname][1]
        spec = spec_from_loader(fullname, self, origin=self._filename(fullname), is_package=is_package)
        spec.has_location = True
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source = self.get_source(module.__name__)
        code = compile(source, self._filename(module.__name__), "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        return self.sources[fullname][0]

    def _filename(self, fullname):
        leaf = "__init__.py" if self.sources[fullname][1] else fullname.rpartition(".")[2] + ".py"
        parts = fullname.split(".")
        parts = parts if self.sources[fullname][1] else parts[:-1]
        return "<hotload-host>/" + "/".join(parts + [leaf])


def install(sources):
    sys.meta_path.insert(0, EmbeddedFinder(sources))
