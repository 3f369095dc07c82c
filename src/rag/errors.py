"""The errors a user can cause, each with a message that says what to do.

The command line turns any `RagError` into one line on standard error and exit status 2
(see CONTRACT.md); internal invariants are plain asserts, not these.
"""


class RagError(Exception):
    """A problem the user can fix; the message says how."""

    exit_status = 2


class InvalidQuestionError(RagError, ValueError):
    """An empty, oversized or unreadable question."""


class InvalidSettingError(RagError, ValueError):
    """An option or setting with a value out of range."""


class CorpusError(RagError):
    """A corpus file or the metadata file is missing or unreadable."""


class IndexMissingError(RagError):
    """No index where one was expected."""


class IndexMismatchError(RagError):
    """The index was built with another embedder or from another corpus, or is damaged."""


class DatasetError(RagError):
    """An evaluation dataset line is malformed."""


class MissingDependencyError(RagError, ImportError):
    """An optional dependency is not installed; the message names the package to install."""


class IndexTargetError(RagError):
    """The folder named for the index holds something else: it is never overwritten."""


class IndexBuildError(RagError):
    """The build produced something unusable (non-finite vectors): the old index stays."""
