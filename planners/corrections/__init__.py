"""Operator corrections in the scheduling layer: the deterministic distiller (text -> records), the
vocabulary it understands (shared with the voice grammar), application of records to plans and skill
calls, and the runtime hooks the scheduler uses. Storage and retrieval live in skill_lib.corrections."""
from planners.corrections.apply import AppliedCorrection, apply_to_call, apply_to_plan
from planners.corrections.context import CorrectionContext, CorrectionError
from planners.corrections.distill import distill
from planners.corrections.runtime import CallCorrector, correct_plan, record_correction
from planners.corrections.vocabulary import GrammarVocabulary, correction_vocabulary

__all__ = ["AppliedCorrection", "CallCorrector", "CorrectionContext", "CorrectionError", "GrammarVocabulary",
           "apply_to_call", "apply_to_plan", "correct_plan", "correction_vocabulary", "distill",
           "record_correction"]
