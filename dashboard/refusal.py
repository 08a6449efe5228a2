"""Why nothing was saved, said the same way on every page: each problem, then that nothing was kept."""
import streamlit as st


def problems_of(refused: Exception) -> list[str]:
    """The problems a refusal names: a RecordError's list, else the exception's words (PermissionDenied)."""
    return list(getattr(refused, "errors", [str(refused)]))


def show_refusal(errors: list[str], *, warnings: tuple[str, ...] | list[str] = (),
                 nothing: str = "Nothing was saved.") -> None:
    """The warnings (values to confirm), then each error and `nothing` (said only when there are errors: a
    confirmation's warnings say themselves what to do)."""
    for message in warnings:
        st.warning(message)
    for message in errors:
        st.error(message)
    if errors:
        st.error(nothing)
