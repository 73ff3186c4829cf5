"""Active learning: query strategies (modAL), a persistent labelling session, simulated curves."""

from curate.active.curves import curve_svg, simulate, summarize
from curate.active.features import FeatureConfig
from curate.active.loop import LoopResult, run_loop
from curate.active.session import LabelingSession
from curate.active.stopping import ProcessTimeEnergy, StopConfig, stop_reason
from curate.active.strategies import STRATEGIES, QueryState, select

__all__ = ["STRATEGIES", "FeatureConfig", "LabelingSession", "LoopResult", "ProcessTimeEnergy", "QueryState",
           "StopConfig", "curve_svg", "run_loop", "select", "simulate", "stop_reason", "summarize"]
