"""The toolkit's version, from the installed distribution's metadata (``model.__version__``).

Its own module so that ``import model`` does not load :mod:`importlib.metadata` (about a third of
the package's import time): the name loads on first use.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llm-serving-economics")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
