from tests.broadcast.conftest import harness  # noqa: F401  (the same loopback harness)
