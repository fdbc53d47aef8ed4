"""Errors that reach users: each carries a short code (for programs) and a plain Chinese message
made where it is raised (for people)."""
from __future__ import annotations


class QAError(Exception):
    """Base of the project's errors: `code` names the kind, `str(error)` is the Chinese message."""

    code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class QuestionError(QAError, ValueError):
    """A question that cannot be searched (empty, too long)."""

    code = "bad_question"


class IngestError(QAError):
    """A file that cannot be read: `file` names it, `reason` says why (the message says both)."""

    code = "unreadable_file"

    def __init__(self, file: str, reason: str, code: str | None = None):
        super().__init__(f"{file}：{reason}", code)
        self.file, self.reason = file, reason


class KnowledgeBaseError(QAError):
    """The knowledge base cannot be built or used."""

    code = "knowledge_base"


class IndexCorruptError(KnowledgeBaseError):
    """The index on disk cannot be read; the message says which part and how to rebuild."""

    code = "index_corrupt"


class IndexMissingError(KnowledgeBaseError):
    code = "index_missing"


class ManageError(QAError, ValueError):
    """A change to the knowledge base that cannot be made."""

    code = "cannot_change"


class ConfigError(QAError, ValueError):
    """A setting that cannot be used; the message names the variable and what it accepts."""

    code = "bad_setting"
