"""Edit me while hotload-host runs. Break add() and self_test stops the run before the shell
step; break mul() and only the unittest step (a separate process) notices."""

try:
    import hotload  # served by hotload-host; absent in the unittest step's plain python3
except ImportError:
    hotload = None

if hotload is not None:
    print(f"calc loaded (run {hotload.info().run})")


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def self_test():
    assert add(2, 3) == 5, f"add(2, 3) == {add(2, 3)}, expected 5"
    print("self-test passed")


def report():
    print(f"report: add(2, 3) = {add(2, 3)}, mul(4, 5) = {mul(4, 5)}")
