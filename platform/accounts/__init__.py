"""Users, their role (annotator, validator, clinician, admin) and validation level."""
