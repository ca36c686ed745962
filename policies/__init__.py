# Makes `policies` a package for mypy only, so this pack's `__main__.py` and the Pulumi program's do
# not collide as two top-level `__main__` modules. The CLI runs the pack with this folder on sys.path.
