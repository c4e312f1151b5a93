"""uploader: ``gait-upload``, the clinic's client -- capture through pykinect_azure, import of existing
recordings, an on-disk queue and resumable, checksummed uploads to the platform's API.

May import: gaitcore's data layer (schemas, session format, importers) and HTTP libraries -- never
torch or Django, so that a clinic can install it alone.
"""

__version__ = "0.1.0"
