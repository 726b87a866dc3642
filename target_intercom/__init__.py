"""target-intercom: a Singer target that loads users into Intercom as contacts."""

__version__ = "0.1.0"
