"""MarketLoop: open-source marketing automation for online stores.

Importing the package has no side effects: settings, database connections and models are built
lazily by the code that needs them.
"""

__version__ = "0.1.0"
