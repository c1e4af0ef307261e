"""Operator corrections as durable knowledge: records, the SQLite store (source of truth), the FAISS
index derived from it, and retrieval with an abstain threshold. Distillation (text -> records) and
application (records -> plan / skill parameters) live one level up, in planners.corrections."""
from planners.corrections.memory.record import CorrectionRecord, ObjectContext, PlanRule, RecordError
from planners.corrections.memory.retrieval import (ABSTAIN_THRESHOLD, CorrectionMemory, RetrievalQuery,
                                                    RetrievedCorrection, colour_histogram, visual_descriptor)
from planners.corrections.memory.store import CorrectionStore, StoreError, default_db_path

__all__ = ["ABSTAIN_THRESHOLD", "CorrectionMemory", "CorrectionRecord", "CorrectionStore", "ObjectContext",
           "PlanRule", "RecordError", "RetrievalQuery", "RetrievedCorrection", "StoreError", "colour_histogram",
           "default_db_path", "visual_descriptor"]
