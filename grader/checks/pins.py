"""A requirements.txt line a learner writes for a package installed here, read with packaging.

Imported lazily: packaging is needed only when an exercise checks such a line."""

from __future__ import annotations


def installed_version(package: str):
    """The installed ``package``'s version (a packaging Version)."""
    import importlib.metadata

    from packaging.version import Version

    return Version(importlib.metadata.version(package))


def pin_problem(line: object, package: str) -> str | None:
    """Why ``line`` is not a requirements.txt line for ``package`` that pins something and allows
    the installed version; None when it is."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if not isinstance(line, str):
        return f"REQUIREMENT is {type(line).__name__}; write the requirements.txt line as a string"
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        return f"REQUIREMENT {line!r} is not a valid requirements.txt line ({exc})"
    if canonicalize_name(req.name) != package:
        return f"REQUIREMENT installs {req.name!r}; the SDK's package is {package!r}"
    if not req.specifier:
        return f"REQUIREMENT {line!r} pins nothing: each build would install whatever is newest"
    installed = installed_version(package)
    if not req.specifier.contains(installed, prereleases=True):
        return f"REQUIREMENT {line!r} does not allow the installed {package} {installed}"
    return None


def also_allowed(line: str, versions: list[str]) -> list[str]:
    """Those of ``versions`` that the (valid) requirement line ``line`` would install too."""
    from packaging.requirements import Requirement

    spec = Requirement(line).specifier
    return [v for v in versions if spec.contains(v, prereleases=True)]
