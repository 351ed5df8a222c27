"""Edit me while hotload-host runs: app.main picks up the new text on the next run."""


def greet(name):
    return f"Hello, {name}"
