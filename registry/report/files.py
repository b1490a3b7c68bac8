"""Writing the site: a file is rewritten only when its bytes change; plotly's JS comes from the installed package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from registry.errors import UserError

EXTRA_HINT = "pip install 'claims-registry[report]'"


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` unless the file already holds exactly these bytes; True when written."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def require_extra() -> None:
    """Fail early, with the extra's name, when the report's libraries are missing."""
    missing = [m for m in ("plotly", "tsdownsample") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"`registry report` needs {' and '.join(missing)}: the `report` extra", hint=EXTRA_HINT)


def plotly_js() -> bytes:
    """plotly.min.js as bundled in the plotly package (read, not imported: importing plotly is slow)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("`registry report` needs plotly: the `report` extra", hint=EXTRA_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise UserError(f"plotly is installed without its bundled plotly.min.js ({path})", hint=EXTRA_HINT)
    return path.read_bytes()
