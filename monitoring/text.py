"""Small text helpers shared by the rules' wording and the exports."""
from __future__ import annotations


def split_top_level(text: str, sep: str = "; ") -> list[str]:
    """Split on `sep` outside parentheses ('creatinine 3.10 mg/dL (>= 3: Dutcher absolute; > 4.5: label)')."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
