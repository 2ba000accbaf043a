"""The domain of the analysis: codebooks, annotations, timecodes, structured fields."""
