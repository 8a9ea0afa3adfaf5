"""django_levelchat: embed real video calls in a Django product.

Nothing heavy is imported here so that settings, migrations and the SFU worker can import the package cheaply.
"""

__version__ = "0.1.0"
