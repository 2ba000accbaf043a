"""Consent per recording: who agreed to what (research, training), since when, until when."""
