"""Errors that stop a run with a short message for the user."""

from __future__ import annotations

from collections.abc import Sequence


class ContractError(Exception):
    """Input breaks the raw-data contract: names file, column, rule, count and examples."""

    def __init__(
        self,
        file: str,
        column: str | None,
        rule: str,
        count: int = 0,
        examples: Sequence[str] = (),
    ) -> None:
        self.file, self.column, self.rule = file, column, rule
        self.count, self.examples = count, tuple(examples)[:5]
        where = f"{file}, column '{column}'" if column else file
        rows = f": {count} rows break it" if count > 1 else (": 1 row breaks it" if count else "")
        shown = f" (e.g. {'; '.join(self.examples)})" if self.examples else ""
        super().__init__(f"{where}: {rule}{rows}{shown}")


class ParamsError(Exception):
    """`params.yaml` is missing a section or has a misspelt or ill-typed key."""


class OutputError(Exception):
    """An output cannot be written: no permission, a read-only or full disk, a file in the way."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"cannot write {path}: {reason}")
