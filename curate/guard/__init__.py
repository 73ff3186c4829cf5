"""The validation guard: judge every reduction on a validation split, undo those that cost accuracy."""

from curate.guard.guard import BACKED_OFF, HOLDS, NO_SAFE_REDUCTION, Guard, Restoration, StageVerdict
from curate.guard.judge import Fit, JudgeSettings, ValidationJudge
from curate.guard.prefix import CurvePoint, PrefixSearch, prefix_search

__all__ = ["BACKED_OFF", "HOLDS", "NO_SAFE_REDUCTION", "CurvePoint", "Fit", "Guard", "JudgeSettings", "PrefixSearch",
           "Restoration", "StageVerdict", "ValidationJudge", "prefix_search"]
