"""Old argument names kept working, with a ``DeprecationWarning`` that names the new one."""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Decorator: accept ``old=value`` for each ``old -> new`` pair, warn, and pass ``new=value``.

    Passing both the old and the new name is a ``TypeError``.
    """

    def decorate(func: F) -> F:
        params = inspect.signature(func).parameters
        for new in old_to_new.values():
            if new not in params:
                raise AssertionError(f"{func.__qualname__} has no parameter {new!r}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old!r} (deprecated) and {new!r}")
                    warnings.warn(f"{func.__name__}(): argument {old!r} is deprecated; use {new!r}",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__deprecated_arguments__ = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def deprecated_alias(func: Callable[..., Any], old_name: str) -> Callable[..., Any]:
    """A module-level function kept under an old name: calls ``func`` after a warning."""

    @functools.wraps(func)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"{old_name}() is deprecated; use {func.__name__}()", DeprecationWarning, stacklevel=2)
        return func(*args, **kwargs)

    alias.__name__ = old_name
    alias.__qualname__ = old_name
    return alias


__all__ = ["renamed_arguments", "deprecated_alias"]
