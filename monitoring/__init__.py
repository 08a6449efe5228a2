"""IL-2 Toxicity Monitor core: catalogue, storage, scores, CTCAE grading and alert rules.

The public engine API (README 'The engine'): score_frame, grade_frame, evaluate. Imported lazily so
that `import monitoring` stays light for the CLI and the storage code.
"""
from __future__ import annotations

__all__ = ["score_frame", "grade_frame", "evaluate"]


def __getattr__(name: str):
    if name == "score_frame":
        from monitoring.clinical.scores import score_frame
        return score_frame
    if name == "grade_frame":
        from monitoring.clinical.ctcae import grade_frame
        return grade_frame
    if name == "evaluate":
        from monitoring.clinical.engine import evaluate
        return evaluate
    raise AttributeError(f"module 'monitoring' has no attribute {name!r}")
