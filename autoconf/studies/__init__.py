"""Studies and who may see what: members, structures, counsellors, recordings, interviews."""
