"""benchmark_model builds for Android: the manifest (`manifest`), the user cache with trust-on-first-use sha256
records (`cache`), downloads (`fetch`) and the choice of the file to push to a device (`resolve`)."""
