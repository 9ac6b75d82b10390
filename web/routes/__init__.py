"""HTTP routes, one module per subject; `ALL` lists their tables in registration order."""

from web.routes import files, history, info, prompt, queue

ALL = (prompt.routes, queue.routes, history.routes, files.routes, info.routes)
