"""The ``patchbay`` command line: it wires runtime, codegen and mocks, and holds no logic."""
