"""`hotload-host --repl`: an interactive console whose namespace is the target module's globals,
alive while saves keep reloading the module. The host's input hook runs reloads while the
console waits for a line; their output goes above the prompt and the line being typed is drawn
again. Ctrl-C cancels the line (or interrupts the statement running); exit() or Ctrl-D ends it.
"""

import code
import os
import sys

_console = None
_module_name = None
_readline = None
_lib = None  # libreadline through ctypes, for redrawing the prompt


def run(module_name, history_path):
    """Runs the console until exit()/Ctrl-D. Returns normally in both cases."""
    global _console, _module_name
    _module_name = module_name
    _console = code.InteractiveConsole(_namespace())
    _setup_readline(history_path)
    banner = (
        "hotload-host console: the namespace is %s's globals; saves reload it in the background.\n"
        "exit() or Ctrl-D ends hotload-host." % module_name
    )
    try:
        _console.interact(banner=banner, exitmsg="")
    except SystemExit:
        pass
    finally:
        if _readline is not None and history_path:
            try:
                _readline.write_history_file(history_path)
            except OSError:
                pass


def _namespace():
    module = sys.modules.get(_module_name)
    return module.__dict__ if module is not None else {"__name__": "__console__"}


def before_output():
    """A reload is about to print: clear the prompt line."""
    sys.stdout.write("\r\x1b[K")
    sys.stdout.flush()


def after_output():
    """A reload printed: follow a module that was (re)created, and draw the prompt again."""
    if _console is not None:
        _console.locals = _namespace()
        if _readline is not None:
            import rlcompleter

            _readline.set_completer(rlcompleter.Completer(_console.locals).complete)
    if _lib is not None:
        _lib.rl_on_new_line()
        _lib.rl_redisplay()
    else:
        prompt = sys.ps2 if _console is not None and _console.buffer else sys.ps1
        sys.stdout.write(str(prompt))
        sys.stdout.flush()


def _setup_readline(history_path):
    global _readline, _lib
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    _readline = readline
    readline.set_completer(rlcompleter.Completer(_console.locals).complete)
    readline.parse_and_bind("tab: complete")
    if history_path and os.path.exists(history_path):
        try:
            readline.read_history_file(history_path)
        except OSError:
            pass
    try:
        import ctypes

        lib = ctypes.CDLL(readline.__file__)
        lib.rl_on_new_line.restype = ctypes.c_int
        lib.rl_redisplay.restype = None
        _lib = lib
    except (OSError, AttributeError):
        _lib = None
