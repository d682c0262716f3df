"""Sites, patients, exams, videos and frames, and the ingestion of ultrasound files."""
