"""Table layout shared by the pages: rows tall enough for Streamlit to wrap text.

st.dataframe wraps a cell's text only when rows are taller than 4 rem (64 px); below that, long text
is cut off at the column's edge, which on a 1366-px ward screen hid today's CTCAE grades and the
pre-dose check's criteria. Pages give such tables fixed column widths that add up to the screen.
"""
WRAPPED_ROW_HEIGHT = 65  # px: two lines of text per row
HEADER_HEIGHT = 38  # px: the header row and the border


LINE_ROW_HEIGHT = 35  # px: one line of text per row (Streamlit's default)


def full_height(rows: int) -> int:
    """Height (px) that shows every one-line row without an inner scroll bar."""
    return LINE_ROW_HEIGHT * rows + HEADER_HEIGHT


def wrapped_height(rows: int) -> int:
    """Height (px) that shows every row of a wrapped table without an inner scroll bar."""
    return WRAPPED_ROW_HEIGHT * rows + HEADER_HEIGHT
