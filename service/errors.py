"""Errors a user can act on. Messages are in Chinese: operators read them."""


class JixiaoError(Exception):
    """Base for errors shown to a user as a message, never as a traceback."""


class IngestError(JixiaoError):
    """A file could not be read into a Document. `reason` says why, in Chinese."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}：{reason}")

    def __reduce__(self):  # raised in the extraction child, unpickled in the worker with its reason
        return type(self), (self.name, self.reason)


class StoreError(JixiaoError):
    """The database could not be written; nothing of the document was kept."""
