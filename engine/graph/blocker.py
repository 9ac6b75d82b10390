"""ExecutionBlocker: an output value that stops the nodes consuming it, silently or with an error."""


class ExecutionBlocker:
    """Return as an output value to block downstream nodes.

    With a message, every consumer reports an execution error "Execution Blocked: <message>";
    with None, consumers are skipped silently. Within a list only the blocked items are skipped.
    """

    __slots__ = ("message",)

    def __init__(self, message: str | None = None):
        self.message = message

    def __repr__(self) -> str:
        return f"ExecutionBlocker({self.message!r})"
