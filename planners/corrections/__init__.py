"""Operator corrections: the deterministic distiller (text -> records), application of records to plans
and skill calls, live corrections for the running skill, and the runtime hooks the scheduler uses.
What is remembered (records, the SQLite store, the FAISS index, retrieval) is the `memory` sub-package;
spoken input is `planners.voice`, which hands its transcripts to `distill` like typed text."""
from planners.corrections.apply import AppliedCorrection, apply_to_call, apply_to_plan
from planners.corrections.context import CorrectionContext, CorrectionError
from planners.corrections.distill import distill
from planners.corrections.runtime import CallCorrector, correct_plan, record_correction

__all__ = ["AppliedCorrection", "CallCorrector", "CorrectionContext", "CorrectionError", "apply_to_call",
           "apply_to_plan", "correct_plan", "distill", "record_correction"]
