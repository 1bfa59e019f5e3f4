"""Bad settings, told as the operator wrote them: one line per `REELBOT_` variable, no traceback.

pydantic reports a field's path (`gallery_port`, `role_limits.12.in_flight`) and, in its own
text, the value, which may be a password; an operator sets environment variables. This turns
either of pydantic's errors into lines that name the variable and what it should be, and never
repeat the value. Every process's entry point uses it, whichever settings class it loads.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from core.errors import ConfigError

PREFIX = "REELBOT_"
HINT = "set it in the environment or in .env"
# pydantic-settings' SettingsError for a complex field (JSON) that does not parse
_UNPARSED_FIELD = re.compile(r'field "(\w+)"')


def variable(field: str, prefix: str = PREFIX) -> str:
    """The environment variable of a settings field: `gallery_port` -> REELBOT_GALLERY_PORT."""
    return f"{prefix}{field}".upper()


def settings_problems(exc: ValidationError | ValueError, prefix: str = PREFIX) -> list[str]:
    """One line per bad setting, the first problem of each: `REELBOT_X: what is wrong; hint`."""
    if not isinstance(exc, ValidationError):
        found = _UNPARSED_FIELD.search(str(exc))
        name = variable(found[1], prefix) if found else "a REELBOT_ setting"
        return [f"{name}: is not valid JSON; {HINT}"]
    lines: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        name = variable(loc[0], prefix) if loc else "settings"
        inside = f" (at {'.'.join(loc[1:])})" if len(loc) > 1 else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.setdefault(name, f"{name}: {message}{inside}; {HINT}")
    return list(lines.values())


def settings_error(exc: ValidationError | ValueError, prefix: str = PREFIX) -> ConfigError:
    """A ConfigError whose message is `settings_problems`, a line each."""
    return ConfigError("\n".join(settings_problems(exc, prefix)))
