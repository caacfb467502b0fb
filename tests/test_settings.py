from pathlib import Path

import pytest

from detector.errors import ConfigError
from detector.settings import load_settings


def test_defaults():
    s = load_settings({})
    assert s.fetch.max_redirects == 5 and s.fetch.allowed_ports == (80, 443)
    assert s.model.model_dir.name == "models"


def test_environment_overrides():
    s = load_settings({
        "STEMCHECK_FETCH_MAX_BYTES": "1000",
        "STEMCHECK_FETCH_TOTAL_TIMEOUT": "2.5",
        "STEMCHECK_MODEL_MODEL_DIR": "/tmp/m",
        "STEMCHECK_FETCH_ALLOWED_PORTS": "80,8080",
    })
    assert s.fetch.max_bytes == 1000 and s.fetch.total_timeout == 2.5
    assert s.model.model_dir == Path("/tmp/m") and s.fetch.allowed_ports == (80, 8080)


def test_bad_value_is_a_clear_error():
    with pytest.raises(ConfigError, match="STEMCHECK_FETCH_MAX_BYTES"):
        load_settings({"STEMCHECK_FETCH_MAX_BYTES": "lots"})
