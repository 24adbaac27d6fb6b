"""Reading the user's data: sources, table and image ingest, the split, and the artefact types that flow between steps."""
