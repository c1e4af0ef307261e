"""Spoken input: an offline recogniser (pocketsphinx) constrained by a grammar built from the correction
vocabulary and the scene's names. It produces text; what the text means is decided by
planners.corrections.distill, exactly as for typed corrections."""
