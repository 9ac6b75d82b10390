"""HTTP routes, one module per subject; `ALL` lists their tables in registration order."""

from web.routes import (
       downloads,
       files,
       history,
       info,
       internal,
       model_library,
       pack_content,
       prompt,
       queue,
       settings,
       userdata,
)

ALL = (prompt.routes, queue.routes, history.routes, files.routes, info.routes, userdata.routes, settings.routes,
       internal.routes, model_library.routes, pack_content.routes, downloads.routes)
