"""The NF-e stack's CrossGuard policies, one module per AWS service; `registry.POLICIES` lists them all."""
