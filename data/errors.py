"""Errors a user can act on: each names the thing and, where there is one, the fix."""


class GlassdynError(Exception):
    """Base class of every error glassdyn raises on purpose (the CLI prints it without a traceback)."""


class StoreError(GlassdynError):
    """A store, group or array is missing, foreign, corrupt or of the wrong shape."""


class InputError(GlassdynError):
    """A file or array handed in by the user is malformed (missing arrays, wrong shapes, NaNs)."""
