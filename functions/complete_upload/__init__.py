"""The complete_upload function."""

# First, before anything imports FastAPI: what it would build at import and never use.
import shoebox.lean_fastapi  # noqa: F401
