"""Device farms: a YAML plan expanded into jobs (models x devices x delegates), run with one worker per device
over one or more adb servers, each result appended to a JSON-lines journal as it finishes, judged by thresholds
and reported as a table, Markdown and JUnit XML."""
