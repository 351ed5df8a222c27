"""`hotload-host --repl`: an interactive console whose namespace is the target module's globals,
alive while saves keep reloading the module.

The host's loop owns the waiting: it polls stdin together with the file watcher and the signal
socket (the interpreter released), and calls `feed()` when a key arrives. Keys go to readline
through its callback interface, so a save is handled the moment it happens and an idle console
makes no periodic wake-ups. Reload output goes above the prompt and the line being typed is
drawn again. Ctrl-C cancels the line (or interrupts the statement running); exit() or Ctrl-D
ends it. Without readline, lines are read plainly.
"""

import code
import os
import sys


class Console:
    def __init__(self, module_name, history_path):
        self.module_name = module_name
        self.history_path = history_path
        self.console = code.InteractiveConsole(self._namespace())
        if not hasattr(sys, "ps1"):
            sys.ps1 = ">>> "
        if not hasattr(sys, "ps2"):
            sys.ps2 = "... "
        self.prompt = None
        self._lines = []  # lines completed by readline's callback, not run yet
        self._partial = b""  # without readline: bytes read but not yet a whole line
        self._readline, self._lib, self._handler = _setup_readline(self.console.locals, history_path)
        if self._lib is not None:
            self._handler = _HANDLER(self._on_line)
        sys.stdout.write(
            "hotload-host console: the namespace is %s's globals; saves reload it in the background.\n"
            "exit() or Ctrl-D ends hotload-host.\n" % module_name
        )
        self._show_prompt(sys.ps1)

    def feed(self):
        """Stdin is readable: take what was typed. Returns False when the console ended."""
        if self._lib is not None:
            self._lib.rl_callback_read_char()
        elif not self._read_plain():
            self._lines.append(None)
        while self._lines:
            line = self._lines.pop(0)
            if line is None:  # Ctrl-D
                sys.stdout.write("\n")
                return False
            if line and self._readline is not None:
                self._readline.add_history(line)
            try:
                more = self.console.push(line)
            except SystemExit:
                return False
            self._show_prompt(sys.ps2 if more else sys.ps1)
        return True

    def interrupt(self):
        """Ctrl-C while a line is being typed: drop it and start a new one."""
        if self._lib is not None:
            self._lib.rl_free_line_state()
            self._lib.rl_callback_sigcleanup()
            self._lib.rl_cleanup_after_signal()
            self._lib.rl_callback_handler_remove()
        self._lines.clear()
        self._partial = b""
        self.console.resetbuffer()
        sys.stdout.write("\nKeyboardInterrupt\n")
        self.prompt = None
        self._show_prompt(sys.ps1)

    def before_output(self):
        """A reload is about to print: clear the prompt line, give the terminal back."""
        if self._lib is not None:
            self._lib.rl_deprep_terminal()
        sys.stdout.write("\r\x1b[K")
        sys.stdout.flush()

    def after_output(self):
        """A reload printed: follow a module that was (re)created, and draw the prompt again."""
        self.console.locals = self._namespace()
        if self._readline is not None:
            import rlcompleter

            self._readline.set_completer(rlcompleter.Completer(self.console.locals).complete)
        if self._lib is not None:
            self._lib.rl_prep_terminal(1)
            self._lib.rl_on_new_line()
            self._lib.rl_redisplay()
        else:
            sys.stdout.write(str(self.prompt))
            sys.stdout.flush()

    def close(self):
        if self._lib is not None:
            self._lib.rl_callback_handler_remove()
        if self._readline is not None and self.history_path:
            try:
                self._readline.write_history_file(self.history_path)
            except OSError:
                pass
        sys.stdout.flush()

    def _namespace(self):
        module = sys.modules.get(self.module_name)
        return module.__dict__ if module is not None else {"__name__": "__console__"}

    def _show_prompt(self, prompt):
        prompt = str(prompt)
        if self._lib is not None:
            if prompt != self.prompt or not self._installed:
                self._lib.rl_callback_handler_install(prompt.encode(), self._handler)
                self._installed = True
        else:
            sys.stdout.write(prompt)
            sys.stdout.flush()
        self.prompt = prompt

    _installed = False

    def _on_line(self, pointer):
        """readline's callback: a whole line (or NULL on Ctrl-D). Runs nothing itself."""
        import ctypes

        if pointer:
            self._lines.append(ctypes.string_at(pointer).decode("utf-8", "surrogateescape"))
            _libc().free(ctypes.c_void_p(pointer))
        else:
            self._lines.append(None)
        self._lib.rl_callback_handler_remove()
        self._installed = False

    def _read_plain(self):
        data = os.read(0, 4096)
        if not data:
            return False
        self._partial += data
        *whole, self._partial = self._partial.split(b"\n")
        self._lines.extend(line.decode("utf-8", "surrogateescape") for line in whole)
        return True


def _setup_readline(namespace, history_path):
    """readline (completion, history) and libreadline's callback interface through ctypes; any
    part that is missing leaves the console on plain line reading."""
    try:
        import readline
        import rlcompleter
    except ImportError:
        return None, None, None
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")
    if history_path and os.path.exists(history_path):
        try:
            readline.read_history_file(history_path)
        except OSError:
            pass
    try:
        import ctypes

        global _HANDLER
        lib = ctypes.CDLL(readline.__file__)
        _HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        lib.rl_callback_handler_install.argtypes = [ctypes.c_char_p, _HANDLER]
        lib.rl_callback_handler_install.restype = None
        for name in ("rl_callback_read_char", "rl_callback_handler_remove", "rl_callback_sigcleanup",
                     "rl_free_line_state", "rl_cleanup_after_signal", "rl_deprep_terminal", "rl_redisplay"):
            getattr(lib, name).restype = None
        lib.rl_prep_terminal.argtypes = [ctypes.c_int]
        lib.rl_prep_terminal.restype = ctypes.c_int
        lib.rl_on_new_line.restype = ctypes.c_int
    except (OSError, AttributeError):
        return readline, None, None
    return readline, lib, None


_HANDLER = None


def _libc():
    import ctypes

    return ctypes.CDLL(None)
