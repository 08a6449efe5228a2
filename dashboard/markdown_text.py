"""Text from the record shown as written inside Streamlit markdown."""
import re


def plain(text: str) -> str:
    """Typed notes, beds and names shown as typed, never as Markdown: every mark escaped (a ']' would end a
    colour, '*' start bold, '$' a formula), so one patient's text cannot change how the rest is shown."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", text)
