"""citebot's exceptions: one tree, each with a message a user can read.

    CitebotError                 anything citebot refuses or cannot do
    ├── InvalidInput             bad input (empty text, unreadable file, bad JSON line)
    │   ├── ArticleTooShort      nothing left to index after cleaning
    │   └── QuotaExceeded        the scope holds as many articles as it may
    ├── NotFoundError            no such article in this scope
    ├── StoreError               the database is unusable (corrupt, wrong version)
    └── ModelError               the embedding model could not be loaded

Code that raises one of these states precisely what went wrong; the CLI prints ``str(error)``
as one line and the Discord layer shows it as an ephemeral message.
"""


class CitebotError(Exception):
    """Base of every error citebot reports to its user."""


class InvalidInput(CitebotError):
    """The input cannot be used as given."""


class ArticleTooShort(InvalidInput):
    """Cleaning the text left nothing to index."""


class QuotaExceeded(InvalidInput):
    """Adding would take the scope past its article quota."""


class NotFoundError(CitebotError):
    """The requested article does not exist in this scope."""


class StoreError(CitebotError):
    """The database is missing, corrupt or from an unknown version."""


class ModelError(CitebotError):
    """The embedding model could not be loaded."""
