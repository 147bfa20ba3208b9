"""The one source of jacstab's version (pyproject.toml reads it: ``[tool.setuptools.dynamic]``)."""

__version__ = "0.2.0"
